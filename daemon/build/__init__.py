"""Dockerfile builds, as docker's classic builder does them (issue 10): the Dockerfile
language (dockerfile.py, words.py), .dockerignore (ignore.py), the context (context.py),
the steps (executor.py, steps.py, copying.py, running.py) and their cache (cache.py).
Layers are made by berth-containerd (Images.Commit, Images.ApplyLayer)."""
