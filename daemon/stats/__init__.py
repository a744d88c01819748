"""`GET /containers/{id}/stats`: the task's cgroup numbers (Tasks.Metrics, runc's shape)
in docker's StatsJSON shape, one-shot or streamed every second."""
