"""The flags of the container commands (run, create, update, inspect, ps), with docker's
help texts: client/commands.py's tables name them."""

from __future__ import annotations

from berth.client.flags import Flag

# Resource limits: run, create and (most of them) update, with docker's help texts.
_LIMIT_FLAGS = (
    Flag("cpu-period", "", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", "", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpu-rt-period", "", "int", "Limit the CPU real-time period in microseconds"),
    Flag("cpu-rt-runtime", "", "int", "Limit the CPU real-time runtime in microseconds"),
    Flag("cpu-shares", "c", "int", "CPU shares (relative weight)"),
    Flag("cpus", "", "decimal", "Number of CPUs"),
    Flag("cpuset-cpus", "", "string", "CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", "", "string", "MEMs in which to allow execution (0-3, 0,1)"),
    Flag("memory", "m", "bytes", "Memory limit"),
    Flag("memory-reservation", "", "bytes", "Memory soft limit"),
    Flag("memory-swap", "", "swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("pids-limit", "", "int", "Tune container pids limit (set -1 for unlimited)"),
)
_RUN_LIMIT_FLAGS = _LIMIT_FLAGS + (
    Flag("cgroup-parent", "", "string", "Optional parent cgroup for the container"),
    Flag("oom-score-adj", "", "int", "Tune host's OOM preferences (-1000 to 1000)"),
    Flag("ulimit", "", "ulimit", "Ulimit options (default [])"),
    # namespaces and the rest of HostConfig berthd honours (daemon/containers/namespaces.py)
    Flag("pid", "", "string", "PID namespace to use"),
    Flag("ipc", "", "string", "IPC mode to use"),
    Flag("shm-size", "", "bytes", "Size of /dev/shm"),
    Flag("uts", "", "string", "UTS namespace to use"),
    Flag("cgroupns", "", "string", "Cgroup namespace to use (host|private)"),
    Flag("oom-kill-disable", "", "bool", "Disable OOM Killer"),
    Flag("memory-swappiness", "", "int", "Tune container memory swappiness (0 to 100) (default -1)"),
)
UPDATE_FLAGS = (Flag("blkio-weight", "", "int", "Block IO (relative weight), between 10 and 1000, or 0 to "
                                                 "disable (default 0)", metavar="uint16"),) + _LIMIT_FLAGS + (
    Flag("restart", "", "string", "Restart policy to apply when a container exits"),
)

RUN_FLAGS = tuple(sorted((
    Flag("cap-add", "", "list", "Add Linux capabilities"),
    Flag("cap-drop", "", "list", "Drop Linux capabilities"),
    Flag("detach", "d", "bool", "Run container in background and print container ID"),
    Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
    Flag("device", "", "list", "Add a host device to the container"),
    Flag("device-cgroup-rule", "", "list", "Add a rule to the cgroup allowed devices list"),
    Flag("entrypoint", "", "string", "Overwrite the default ENTRYPOINT of the image"),
    Flag("env", "e", "list", "Set environment variables"),
    Flag("hostname", "h", "string", "Container host name"),
    Flag("interactive", "i", "bool", "Keep STDIN open even if not attached"),
    Flag("label", "l", "list", "Set meta data on a container"),
    Flag("name", "", "string", "Assign a name to the container"),
    Flag("network", "", "string", "Connect a container to a network", metavar="network"),
    Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
    Flag("privileged", "", "bool", "Give extended privileges to this container"),
    Flag("read-only", "", "bool", "Mount the container's root filesystem as read only"),
    Flag("runtime", "", "string", "Runtime to use for this container"),
    Flag("mount", "", "list", "Attach a filesystem mount to the container", metavar="mount"),
    Flag("tmpfs", "", "list", "Mount a tmpfs directory"),
    Flag("volume", "v", "list", "Bind mount a volume"),
    Flag("volumes-from", "", "list", "Mount volumes from the specified container(s)"),
    Flag("rm", "", "bool", "Automatically remove the container and its associated anonymous "
                           "volumes when it exits"),
    Flag("security-opt", "", "list", "Security Options"),
    Flag("sysctl", "", "list", "Sysctl options"),
    Flag("tty", "t", "bool", "Allocate a pseudo-TTY"),
    Flag("user", "u", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("userns", "", "string", "User namespace to use"),
    Flag("workdir", "w", "string", "Working directory inside the container"),
    # networking (client/network.py)
    Flag("publish", "p", "list", "Publish a container's port(s) to the host"),
    Flag("publish-all", "P", "bool", "Publish all exposed ports to random ports"),
    Flag("expose", "", "list", "Expose a port or a range of ports"),
    Flag("add-host", "", "list", "Add a custom host-to-IP mapping (host:ip)"),
    Flag("dns", "", "list", "Set custom DNS servers"),
    Flag("dns-search", "", "list", "Set custom DNS search domains"),
    Flag("dns-option", "", "list", "Set DNS options"),
    Flag("ip", "", "string", "IPv4 address (e.g., 172.30.100.104)"),
    Flag("mac-address", "", "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("network-alias", "", "list", "Add network-scoped alias for the container"),
    Flag("link", "", "list", "Add link to another container"),
    # the rest of its life (client/lifecycle.py)
    Flag("restart", "", "string", 'Restart policy to apply when a container exits (default "no")'),
    Flag("health-cmd", "", "string", "Command to run to check health"),
    Flag("health-interval", "", "duration", "Time between running the check (ms|s|m|h) (default 0s)"),
    Flag("health-retries", "", "int", "Consecutive failures needed to report unhealthy"),
    Flag("health-start-interval", "", "duration", "Time between running the check during the start "
                                                  "period (ms|s|m|h) (default 0s)"),
    Flag("health-start-period", "", "duration", "Start period for the container to initialize before "
                                                "starting health-retries countdown (ms|s|m|h) (default 0s)"),
    Flag("health-timeout", "", "duration", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    Flag("no-healthcheck", "", "bool", "Disable any container-specified HEALTHCHECK"),
    Flag("init", "", "bool", "Run an init inside the container that forwards signals and reaps processes"),
    Flag("stop-signal", "", "string", "Signal to stop the container"),
    Flag("stop-timeout", "", "int", "Timeout (in seconds) to stop a container"),
    Flag("group-add", "", "list", "Add additional groups to join"),
    Flag("label-file", "", "list", "Read in a line delimited file of labels"),
    Flag("log-driver", "", "string", "Logging driver for the container"),
    Flag("log-opt", "", "list", "Log driver options"),
) + _RUN_LIMIT_FLAGS, key=lambda f: f.long))
CREATE_FLAGS = tuple(f for f in RUN_FLAGS if f.long not in ("detach", "detach-keys"))

INSPECT_FLAGS = (
    Flag("format", "f", "string", "Format output using a custom template: 'json' or a Go template"),
)

PS_FLAGS = (
    Flag("all", "a", "bool", "Show all containers (default shows just running)"),
    Flag("filter", "f", "list", "Filter output based on conditions provided"),
    Flag("format", "", "string", "Format output using a custom template: 'table', 'table TEMPLATE' or a Go template"),
    Flag("last", "n", "int", "Show n last created containers (includes all states) (default -1)"),
    Flag("latest", "l", "bool", "Show the latest created container (includes all states)"),
    Flag("no-trunc", "", "bool", "Don't truncate output"),
    Flag("quiet", "q", "bool", "Only display container IDs"),
    Flag("size", "s", "bool", "Display total file sizes"),
)
