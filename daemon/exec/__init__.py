"""docker exec: processes started in a running container, held by its shim (store, service, session)."""
