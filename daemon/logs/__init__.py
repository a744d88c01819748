"""Log drivers (HostConfig.LogConfig): which ones berth has, their options, and reading a
log that the shim rotates (drivers.py, rotated.py)."""
