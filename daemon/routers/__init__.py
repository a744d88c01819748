"""One thin router per API group; each calls the daemon's services, never containerd."""
