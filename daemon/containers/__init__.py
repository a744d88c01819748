"""The container service: create/start/stop/kill/remove, exits, names, the store, the
OCI spec from a container's config, and the API's views of it."""
