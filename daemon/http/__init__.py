"""The HTTP side of berthd: the protocol (peer credentials, hijacking), who may connect,
API versions in paths, query parameters, and Docker-shaped errors."""
