"""berthd's registry service, as dockerd's registry package: mirrors and insecure
registries (settings.py), POST /auth (login.py), GET /distribution/{name}/json
(distribution.py) and pulls of every tag (alltags.py). Every registry request is made
by berth-containerd (its remotes/); berthd only translates."""
