"""berth-containerd, the lifecycle service (see docs/architecture.md).

One package per subsystem, as containerd has them:
  content     blobs by sha256, atomic verified ingest
  metadata    SQLite: images and names, containers, snapshot records
  snapshots   overlayfs: committed layers by chain id, active snapshots per container; mounts
  diff        applying a layer to a snapshot (unpack, whiteouts)
  images      docker-import, names, deletion rules
  containers  container records, their writable snapshots, --user against the image
  runtime     one shim per task, restart recovery, /tasks/exit watchers; the fork server
  events      fan-out to Subscribe streams
  server      one gRPC servicer per proto service (the only grpc importer)
  main        flags and start-up order
"""
