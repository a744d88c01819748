"""System-wide views that span the services: disk usage (df.py)."""
