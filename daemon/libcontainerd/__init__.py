"""berthd's client of berth-containerd (the only gRPC importer in berthd) and the
supervisor of the berth-containerd berthd manages itself."""

from .client import CALL_TIMEOUT, Containerd
from .types import (Container, ContainerdError, DeleteResult, Event, Image, Metrics, PullProgress, PushProgress,
                    RegistryAuth, Task)

__all__ = ["CALL_TIMEOUT", "Container", "Containerd", "ContainerdError", "DeleteResult", "Event", "Image", "Metrics",
           "PullProgress", "PushProgress", "RegistryAuth", "Task"]
