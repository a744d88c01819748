"""Volumes and the mounts of containers, as dockerd has them (daemon/volumes.go,
volume/local, volume/mounts): the `local` driver under <data-root>/volumes, the
parsing of Binds, Mounts, Tmpfs and VolumesFrom into mount points, and the OCI mounts
they become. The container service calls in at create, start, exit and remove
(service.py's `Volumes`); nothing else of berthd knows how a mount is made."""
