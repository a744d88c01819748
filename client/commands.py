"""Every command's grammar (flags, usage, argument counts) and the function that runs it.

Kept apart from the code that runs commands so that `berth --help` and a typo
cost only this table; handlers live in modules imported on first use.
"""

from __future__ import annotations

from berth.client.flags import Command, Flag
from berth.common import DEFAULT_HOST

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
)
_UPDATE_FLAGS = (Flag("blkio-weight", "", "int", "Block IO (relative weight), between 10 and 1000, or 0 to "
                                                 "disable (default 0)", metavar="uint16"),) + _LIMIT_FLAGS + (
    Flag("restart", "", "string", "Restart policy to apply when a container exits"),
)

_RUN_FLAGS = tuple(sorted((
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
_CREATE_FLAGS = tuple(f for f in _RUN_FLAGS if f.long not in ("detach", "detach-keys"))

_INSPECT_FLAGS = (
    Flag("format", "f", "string", "Format output using a custom template: 'json' or a Go template"),
)

_PS_FLAGS = (
    Flag("all", "a", "bool", "Show all containers (default shows just running)"),
    Flag("filter", "f", "list", "Filter output based on conditions provided"),
    Flag("format", "", "string", "Format output using a custom template: 'table', 'table TEMPLATE' or a Go template"),
    Flag("last", "n", "int", "Show n last created containers (includes all states) (default -1)"),
    Flag("latest", "l", "bool", "Show the latest created container (includes all states)"),
    Flag("no-trunc", "", "bool", "Don't truncate output"),
    Flag("quiet", "q", "bool", "Only display container IDs"),
)

# (short path, summary, usage, flags, min, max, interspersed, handler)
_CONTAINER = {
    "run": ("Create and run a new container from an image", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
            _RUN_FLAGS, 1, None, False, "run:cmd_run"),
    "create": ("Create a new container", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
               _CREATE_FLAGS, 1, None, False, "run:cmd_create"),
    "start": ("Start one or more stopped containers", "[OPTIONS] CONTAINER [CONTAINER...]",
              (Flag("attach", "a", "bool", "Attach STDOUT/STDERR and forward signals"),
               Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
               Flag("interactive", "i", "bool", "Attach container's STDIN")),
              1, None, True, "run:cmd_start"),
    "ps": ("List containers", "[OPTIONS]", _PS_FLAGS, 0, 0, True, "containers:cmd_ps"),
    "logs": ("Fetch the logs of a container", "[OPTIONS] CONTAINER", (
        Flag("follow", "f", "bool", "Follow log output"),
        Flag("tail", "n", "string", "Number of lines to show from the end of the logs", "all"),
        Flag("timestamps", "t", "bool", "Show timestamps"),
        Flag("since", "", "string", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\")"),
    ), 1, 1, True, "containers:cmd_logs"),
    "stop": ("Stop one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("signal", "s", "string", "Signal to send to the container"),
        Flag("timeout", "t", "int", "Seconds to wait before killing the container"),
    ), 1, None, True, "containers:cmd_stop"),
    "restart": ("Restart one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("signal", "s", "string", "Signal to send to the container"),
        Flag("timeout", "t", "int", "Seconds to wait before killing the container"),
    ), 1, None, True, "lifecycle:cmd_restart"),
    "kill": ("Kill one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("signal", "s", "string", "Signal to send to the container"),
    ), 1, None, True, "containers:cmd_kill"),
    "rm": ("Remove one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("force", "f", "bool", "Force the removal of a running container (uses SIGKILL)"),
        Flag("volumes", "v", "bool", "Remove anonymous volumes associated with the container"),
    ), 1, None, True, "containers:cmd_rm"),
    "wait": ("Block until one or more containers stop, then print their exit codes",
             "CONTAINER [CONTAINER...]", (), 1, None, True, "containers:cmd_wait"),
    "inspect": ("Display detailed information on one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]",
                _INSPECT_FLAGS, 1, None, True, "containers:cmd_container_inspect"),
    "exec": ("Execute a command in a running container", "[OPTIONS] CONTAINER COMMAND [ARG...]", (
        Flag("detach", "d", "bool", "Detached mode: run command in the background"),
        Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
        Flag("env", "e", "list", "Set environment variables"),
        Flag("env-file", "", "list", "Read in a file of environment variables"),
        Flag("interactive", "i", "bool", "Keep STDIN open even if not attached"),
        Flag("privileged", "", "bool", "Give extended privileges to the command"),
        Flag("tty", "t", "bool", "Allocate a pseudo-TTY"),
        Flag("user", "u", "string", "Username or UID (format: \"<name|uid>[:<group|gid>]\")"),
        Flag("workdir", "w", "string", "Working directory inside the container"),
    ), 2, None, False, "execcmd:cmd_exec"),
    "attach": ("Attach local standard input, output, and error streams to a running container",
               "[OPTIONS] CONTAINER", (
                   Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
                   Flag("no-stdin", "", "bool", "Do not attach STDIN"),
                   Flag("sig-proxy", "", "bool", "Proxy all received signals to the process", True),
               ), 1, 1, True, "execcmd:cmd_attach"),
    "stats": ("Display a live stream of container(s) resource usage statistics", "[OPTIONS] [CONTAINER...]", (
        Flag("all", "a", "bool", "Show all containers (default shows just running)"),
        Flag("format", "", "string", "Format output using a custom template: 'table', 'table TEMPLATE', "
                                     "'json' or a Go template"),
        Flag("no-stream", "", "bool", "Disable streaming stats and only pull the first result"),
        Flag("no-trunc", "", "bool", "Do not truncate output"),
    ), 0, None, True, "stats:cmd_stats"),
    "update": ("Update configuration of one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]",
               _UPDATE_FLAGS, 1, None, True, "update:cmd_update"),
    "port": ("List port mappings or a specific mapping for the container", "CONTAINER [PRIVATE_PORT[/PROTO]]",
             (), 1, 2, True, "network:cmd_port"),
}

_IMAGE = {
    "ls": ("List images", "[OPTIONS] [REPOSITORY[:TAG]]", (
        Flag("all", "a", "bool", "Show all images (default hides intermediate images)"),
        Flag("digests", "", "bool", "Show digests"),
        Flag("filter", "f", "list", "Filter output based on conditions provided"),
        Flag("no-trunc", "", "bool", "Don't truncate output"),
        Flag("quiet", "q", "bool", "Only show image IDs"),
    ), 0, 1, True, "images:cmd_images"),
    "import": ("Import the contents from a tarball to create a filesystem image",
               "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", (
                   Flag("change", "c", "list", "Apply Dockerfile instruction to the created image"),
                   Flag("message", "m", "string", "Set commit message for imported image"),
               ), 1, None, True, "images:cmd_import"),
    "inspect": ("Display detailed information on one or more images", "[OPTIONS] IMAGE [IMAGE...]",
                _INSPECT_FLAGS, 1, None, True, "images:cmd_image_inspect"),
    "pull": ("Download an image from a registry", "[OPTIONS] NAME[:TAG|@DIGEST]", (
        Flag("all-tags", "a", "bool", "Download all tagged images in the repository"),
        Flag("disable-content-trust", "", "bool", "Skip image verification (default true)"),
        Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
        Flag("quiet", "q", "bool", "Suppress verbose output"),
    ), 1, 1, True, "pull:cmd_pull"),
    "push": ("Upload an image to a registry", "[OPTIONS] NAME[:TAG]", (
        Flag("all-tags", "a", "bool", "Push all tags of an image to the repository"),
        Flag("disable-content-trust", "", "bool", "Skip image signing (default true)"),
        Flag("quiet", "q", "bool", "Suppress verbose output"),
    ), 1, 1, True, "push:cmd_push"),
    "tag": ("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
            (), 2, 2, True, "image_ops:cmd_tag"),
    "rm": ("Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]", (
        Flag("force", "f", "bool", "Force removal of the image"),
        Flag("no-prune", "", "bool", "Do not delete untagged parents"),
    ), 1, None, True, "image_ops:cmd_rmi"),
    "history": ("Show the history of an image", "[OPTIONS] IMAGE", (
        Flag("human", "H", "bool", "Print sizes and dates in human readable format", True),
        Flag("no-trunc", "", "bool", "Don't truncate output"),
        Flag("quiet", "q", "bool", "Only show image IDs"),
    ), 1, 1, True, "image_ops:cmd_history"),
    "prune": ("Remove unused images", "[OPTIONS]", (
        Flag("all", "a", "bool", "Remove all unused images, not just dangling ones"),
        Flag("filter", "", "list", "Provide filter values (e.g. \"until=<timestamp>\")"),
        Flag("force", "f", "bool", "Do not prompt for confirmation"),
    ), 0, 0, True, "image_ops:cmd_prune"),
    "save": ("Save one or more images to a tar archive (streamed to STDOUT by default)",
             "[OPTIONS] IMAGE [IMAGE...]", (
                 Flag("output", "o", "string", "Write to a file, instead of STDOUT"),
             ), 1, None, True, "image_ops:cmd_save"),
    "load": ("Load an image from a tar archive or STDIN", "[OPTIONS]", (
        Flag("input", "i", "string", "Read from tar archive file, instead of STDIN"),
        Flag("quiet", "q", "bool", "Suppress the load output"),
    ), 0, 0, True, "image_ops:cmd_load"),
}
# top-level forms of image commands: `berth rmi` is `berth image rm`
_IMAGE_SHORTCUTS = {"import": "import", "pull": "pull", "push": "push", "tag": "tag", "rmi": "rm",
                    "history": "history", "save": "save", "load": "load"}

_SYSTEM = {
    "version": ("Show the berth version information", "[OPTIONS]", (), 0, 0, True, "system:cmd_version"),
    "info": ("Display system-wide information", "[OPTIONS]", (), 0, 0, True, "system:cmd_info"),
    "inspect": ("Return low-level information on berth objects", "[OPTIONS] NAME|ID [NAME|ID...]",
                _INSPECT_FLAGS, 1, None, True, "containers:cmd_inspect"),
    "events": ("Get real time events from the server", "[OPTIONS]", (
        Flag("filter", "f", "list", "Filter output based on conditions provided", metavar="filter"),
        Flag("format", "", "string", "Format output using a custom template: 'json' or a Go template"),
        Flag("since", "", "string", "Show all events created since timestamp"),
        Flag("until", "", "string", "Stream events until this timestamp"),
    ), 0, 0, True, "events:cmd_events"),
    "network": ("Manage networks", "COMMAND", (
        Flag("driver", "d", "string", "Driver to manage the Network"),
        Flag("subnet", "", "string", "Subnet in CIDR format that represents a network segment"),
        Flag("gateway", "", "string", "IPv4 Gateway for the master subnet"),
        Flag("internal", "", "bool", "Restrict external access to the network"),
        Flag("quiet", "q", "bool", "Only display network IDs"),
    ), 1, None, True, "network:cmd_network"),
}
# `berth system SUB`: the subcommands that have no top-level form
_SYSTEM_ONLY = {
    "df": ("Show berth disk usage", "[OPTIONS]", (
        Flag("verbose", "v", "bool", "Show detailed information on space usage"),
    ), 0, 0, True, "df:cmd_df"),
}

# Short top-level forms: `berth ps` is `berth container ps`, `berth images` is `berth image ls`.
_CONTAINER_SHORTCUTS = ("run", "create", "start", "ps", "logs", "stop", "restart", "kill", "rm", "wait", "exec",
                        "attach", "stats", "update", "port")
_CONTAINER_ALIASES = {"ls": "ps", "list": "ps", "remove": "rm"}
_IMAGE_ALIASES = {"list": "ls", "remove": "rm", "rmi": "rm"}


def _spec(path: str, entry: tuple, aliases: tuple[str, ...]) -> tuple[Command, str]:
    summary, usage, flags, lo, hi, inter, handler = entry
    return Command(path, usage, summary, flags, lo, hi, inter, aliases), handler


def _image_aliases(name: str) -> tuple[str, ...]:
    if name == "ls":
        return ("image ls", "image list", "images")
    if name == "rm":
        return ("image rm", "image remove", "rmi")
    top = [k for k, v in _IMAGE_SHORTCUTS.items() if v == name]
    return (f"image {name}", *top)


def _container_aliases(name: str) -> tuple[str, ...]:
    if name == "ps":
        return ("container ls", "container list", "container ps", "ps")
    if name in _CONTAINER_SHORTCUTS:
        return (f"container {name}", name)
    return ()


def lookup(words: list[str]) -> tuple[Command, str, int] | tuple[None, str, int]:
    """The command named by the first words of argv: (spec, handler, words used).

    When no command matches, the spec is None and the handler names the group
    ("", "container" or "image") whose help or error message applies.
    """
    if not words:
        return None, "", 0
    first = words[0]
    if first in ("container", "image"):
        group = _CONTAINER if first == "container" else _IMAGE
        aliases = _CONTAINER_ALIASES if first == "container" else _IMAGE_ALIASES
        if len(words) < 2:
            return None, first, 1
        sub = aliases.get(words[1], words[1])
        if sub not in group:
            return None, first, 2
        spec, handler = _spec(f"{first} {words[1]}", group[sub],
                              _container_aliases(sub) if first == "container" else _image_aliases(sub))
        return spec, handler, 2
    if first in _CONTAINER_SHORTCUTS:
        spec, handler = _spec(first, _CONTAINER[first], _container_aliases(first))
        return spec, handler, 1
    if first == "images":
        spec, handler = _spec("images", _IMAGE["ls"], ("image ls", "image list", "images"))
        return spec, handler, 1
    if first in _IMAGE_SHORTCUTS:
        sub = _IMAGE_SHORTCUTS[first]
        spec, handler = _spec(first, _IMAGE[sub], _image_aliases(sub))
        return spec, handler, 1
    if first in _SYSTEM:
        spec, handler = _spec(first, _SYSTEM[first], ())
        return spec, handler, 1
    if first == "system" and len(words) > 1 and (words[1] in _SYSTEM_ONLY or words[1] in _SYSTEM):
        spec, handler = _spec(f"system {words[1]}", {**_SYSTEM, **_SYSTEM_ONLY}[words[1]], ())
        return spec, handler, 2
    return None, "", 1


def group_help(group: str) -> str:
    """`berth`, `berth container` and `berth image` without a subcommand."""
    if group == "container":
        table, usage, title = _CONTAINER, "Usage:  berth container COMMAND\n\nManage containers\n", "Commands"
    elif group == "image":
        table, usage, title = _IMAGE, "Usage:  berth image COMMAND\n\nManage images\n", "Commands"
    else:
        lines = ["Usage:  berth [OPTIONS] COMMAND", "", "A container engine that speaks Docker's API", "",
                 "Common Commands:"]
        for name in ("run", "exec", "ps", "images", "pull", "logs", "stop", "rm", "version", "info"):
            spec, _, _ = lookup([name])
            assert spec is not None
            lines.append(f"  {name:<11} {spec.summary}")
        lines += ["", "Management Commands:", "  container   Manage containers", "  image       Manage images",
                  "", "Commands:"]
        for name in ("attach", "create", "events", "history", "import", "inspect", "kill", "load", "push", "rmi",
                     "save", "start", "stats", "tag", "update", "wait"):
            spec, _, _ = lookup([name])
            assert spec is not None
            lines.append(f"  {name:<11} {spec.summary}")
        lines += ["", "Global Options:",
                  "  -H, --host string   Daemon socket to connect to (default $BERTH_HOST or",
                  f"                      {DEFAULT_HOST})",
                  "  -v, --version       Print version information and quit",
                  "", "Run 'berth COMMAND --help' for more information on a command."]
        return "\n".join(lines) + "\n"
    lines = [usage, f"{title}:"]
    for name in sorted(table):
        lines.append(f"  {name:<11} {table[name][0]}")
    lines += ["", f"Run 'berth {group} COMMAND --help' for more information on a command."]
    return "\n".join(lines) + "\n"
