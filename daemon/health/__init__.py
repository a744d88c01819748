"""Health checks (Config.Healthcheck, the image's HEALTHCHECK): the settings (config.py)
and the monitor that probes a running container through an exec in its shim (monitor.py)."""
