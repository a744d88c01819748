"""Docker's default confinement of containers and the knobs that change it (daemon side)."""
