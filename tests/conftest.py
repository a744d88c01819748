"""Shared by every test package: tests/ is on sys.path, so `import rootfs` works."""
