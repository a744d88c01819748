"""berth-containerd, the lifecycle service (see shared DESIGN.md and docs/internals.md).

One module per subsystem, as containerd has them:
  content     blobs by sha256, atomic verified ingest
  metadata    SQLite: images and names, containers, snapshot records
  snapshots   overlayfs: committed layers by chain id, active snapshots per container
  images      docker-import, names, deletion rules
  containers  container records and their writable snapshots
  tasks       one shim per task; restart recovery; /tasks/exit watchers
  forkserver  the single-threaded helper that forks shims (started before grpc)
  events      fan-out to Subscribe streams
  server      the gRPC servicers and error mapping (the only grpc importer)
  main        flags and start-up order
"""
