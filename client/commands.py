"""Every command's grammar (flags, usage, argument counts) and the function that runs it.

Kept apart from the code that runs commands so that `berth --help` and a typo
cost only this table; handlers live in modules imported on first use.
"""

from __future__ import annotations

from berth.client.ctrflags import CREATE_FLAGS, INSPECT_FLAGS, PS_FLAGS, RUN_FLAGS, UPDATE_FLAGS
from berth.client.flags import Command, Flag
from berth.common import DEFAULT_HOST

# (short path, summary, usage, flags, min, max, interspersed, handler)
_CONTAINER = {
    "run": ("Create and run a new container from an image", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
            RUN_FLAGS, 1, None, False, "run:cmd_run"),
    "create": ("Create a new container", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
               CREATE_FLAGS, 1, None, False, "run:cmd_create"),
    "start": ("Start one or more stopped containers", "[OPTIONS] CONTAINER [CONTAINER...]",
              (Flag("attach", "a", "bool", "Attach STDOUT/STDERR and forward signals"),
               Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
               Flag("interactive", "i", "bool", "Attach container's STDIN")),
              1, None, True, "run:cmd_start"),
    "ps": ("List containers", "[OPTIONS]", PS_FLAGS, 0, 0, True, "containers:cmd_ps"),
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
    "kill": ("Kill one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("signal", "s", "string", "Signal to send to the container"),
    ), 1, None, True, "containers:cmd_kill"),
    "rm": ("Remove one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("force", "f", "bool", "Force the removal of a running container (uses SIGKILL)"),
        Flag("volumes", "v", "bool", "Remove anonymous volumes associated with the container"),
    ), 1, None, True, "containers:cmd_rm"),
    "wait": ("Block until one or more containers stop, then print their exit codes",
             "[OPTIONS] CONTAINER [CONTAINER...]", (
                 Flag("condition", "", "string", "Wait until the container is not-running (default), "
                                                 "has its next-exit, or is removed"),
             ), 1, None, True, "containers:cmd_wait"),
    "inspect": ("Display detailed information on one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]",
                INSPECT_FLAGS, 1, None, True, "containers:cmd_container_inspect"),
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
               UPDATE_FLAGS, 1, None, True, "update:cmd_update"),
    "port": ("List port mappings or a specific mapping for the container", "CONTAINER [PRIVATE_PORT[/PROTO]]",
             (), 1, 2, True, "network:cmd_port"),
    # working inside containers (client/cp.py, client/ctrcmds.py)
    "cp": ("Copy files/folders between a container and the local filesystem",
           "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", (
               Flag("archive", "a", "bool", "Archive mode (copy all uid/gid information)"),
               Flag("follow-link", "L", "bool", "Always follow symlinks in SRC_PATH"),
               Flag("quiet", "q", "bool", "Suppress progress output during copy. Progress output is "
                                          "automatically suppressed if no terminal is attached"),
           ), 2, 2, True, "cp:cmd_cp"),
    "diff": ("Inspect changes to files or directories on a container's filesystem", "CONTAINER", (),
             1, 1, True, "ctrcmds:cmd_diff"),
    "export": ("Export a container's filesystem as a tar archive", "[OPTIONS] CONTAINER", (
        Flag("output", "o", "string", "Write to a file, instead of STDOUT"),
    ), 1, 1, True, "ctrcmds:cmd_export"),
    "pause": ("Pause all processes within one or more containers", "CONTAINER [CONTAINER...]", (),
              1, None, True, "ctrcmds:cmd_pause"),
    "unpause": ("Unpause all processes within one or more containers", "CONTAINER [CONTAINER...]", (),
                1, None, True, "ctrcmds:cmd_unpause"),
    "rename": ("Rename a container", "CONTAINER NEW_NAME", (), 2, 2, True, "ctrcmds:cmd_rename"),
    "restart": ("Restart one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]", (
        Flag("signal", "s", "string", "Signal to send to the container"),
        Flag("timeout", "t", "int", "Seconds to wait before killing the container"),
    ), 1, None, True, "ctrcmds:cmd_restart"),
    "top": ("Display the running processes of a container", "CONTAINER [ps OPTIONS]", (),
            1, None, False, "ctrcmds:cmd_top"),
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
                INSPECT_FLAGS, 1, None, True, "images:cmd_image_inspect"),
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
    # issue 10: build and commit (client/build.py)
    "build": ("Build an image from a Dockerfile", "[OPTIONS] PATH | URL | -", (
        Flag("build-arg", "", "list", "Set build-time variables"),
        Flag("file", "f", "string", "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
        Flag("iidfile", "", "string", "Write the image ID to the file"),
        Flag("label", "", "list", "Set metadata for an image"),
        Flag("no-cache", "", "bool", "Do not use cache when building the image"),
        Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
        Flag("pull", "", "bool", "Always attempt to pull a newer version of the image"),
        Flag("quiet", "q", "bool", "Suppress the build output and print image ID on success"),
        Flag("tag", "t", "list", "Name and optionally a tag in the 'name:tag' format"),
        Flag("target", "", "string", "Set the target build stage to build."),
    ), 1, 1, True, "build:cmd_build"),
    "commit": ("Create a new image from a container's changes", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", (
        Flag("author", "a", "string", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")"),
        Flag("change", "c", "list", "Apply Dockerfile instruction to the created image"),
        Flag("message", "m", "string", "Commit message"),
        Flag("pause", "p", "bool", "Pause container during commit", True),
    ), 1, 2, True, "build:cmd_commit"),
    "load": ("Load an image from a tar archive or STDIN", "[OPTIONS]", (
        Flag("input", "i", "string", "Read from tar archive file, instead of STDIN"),
        Flag("quiet", "q", "bool", "Suppress the load output"),
    ), 0, 0, True, "image_ops:cmd_load"),
}
# top-level forms of image commands: `berth rmi` is `berth image rm`
_IMAGE_SHORTCUTS = {"build": "build", "commit": "commit",  # issue 10
                    "import": "import", "pull": "pull", "push": "push", "tag": "tag", "rmi": "rm",
                    "history": "history", "save": "save", "load": "load"}

_SYSTEM = {
    "version": ("Show the berth version information", "[OPTIONS]", (), 0, 0, True, "system:cmd_version"),
    "info": ("Display system-wide information", "[OPTIONS]", (), 0, 0, True, "system:cmd_info"),
    "inspect": ("Return low-level information on berth objects", "[OPTIONS] NAME|ID [NAME|ID...]",
                INSPECT_FLAGS, 1, None, True, "containers:cmd_inspect"),
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
# registries (client/login.py)
_SYSTEM["login"] = ("Authenticate to a registry", "[OPTIONS] [SERVER]", (
    Flag("password", "p", "string", "Password or Personal Access Token (PAT)"),
    Flag("password-stdin", "", "bool", "Take the Password or Personal Access Token (PAT) from stdin"),
    Flag("username", "u", "string", "Username"),
), 0, 1, True, "login:cmd_login")
_SYSTEM["logout"] = ("Log out from a registry", "[SERVER]", (), 0, 1, True, "login:cmd_logout")
# `berth system SUB`: the subcommands that have no top-level form
_SYSTEM_ONLY = {
    "df": ("Show berth disk usage", "[OPTIONS]", (
        Flag("verbose", "v", "bool", "Show detailed information on space usage"),
    ), 0, 0, True, "df:cmd_df"),
}

# `berth network SUB` is one command (client/network.py): its subcommands, for help and completion
NETWORK_SUBS = {
    "connect": "Connect a container to a network", "create": "Create a network",
    "disconnect": "Disconnect a container from a network",
    "inspect": "Display detailed information on one or more networks", "ls": "List networks",
    "prune": "Remove all unused networks", "rm": "Remove one or more networks"}
# `berth system SUB` as docker lists them (docker's own words; berth has no `system prune`)
SYSTEM_SUBS = {"df": "Show berth disk usage", "events": "Get real time events from the server",
               "info": "Display system-wide information"}

# `berth volume SUB` (client/volume.py)
_VOLUME = {
    "create": ("Create a volume", "[OPTIONS] [VOLUME]", (
        Flag("driver", "d", "string", "Specify volume driver name", "local"),
        Flag("label", "", "list", "Set metadata for a volume"),
        Flag("name", "", "string", "Specify volume name"),
        Flag("opt", "o", "list", "Set driver specific options", metavar="map"),
    ), 0, 1, True, "volume:cmd_create"),
    "ls": ("List volumes", "[OPTIONS]", (
        Flag("filter", "f", "list", "Provide filter values (e.g. \"dangling=true\")", metavar="filter"),
        Flag("format", "", "string", "Format output using a custom template: 'table', 'table TEMPLATE', "
                                     "'json' or a Go template"),
        Flag("quiet", "q", "bool", "Only display volume names"),
    ), 0, 0, True, "volume:cmd_ls"),
    "inspect": ("Display detailed information on one or more volumes", "[OPTIONS] VOLUME [VOLUME...]",
                (Flag("format", "f", "string", "Format output using a custom template"),), 1, None, True,
                "volume:cmd_inspect"),
    "rm": ("Remove one or more volumes", "[OPTIONS] VOLUME [VOLUME...]", (
        Flag("force", "f", "bool", "Force the removal of one or more volumes"),
    ), 1, None, True, "volume:cmd_rm"),
    "prune": ("Remove unused local volumes", "[OPTIONS]", (
        Flag("all", "a", "bool", "Remove all unused volumes, not just anonymous ones"),
        Flag("filter", "", "list", "Provide filter values (e.g. \"label=<label>\")", metavar="filter"),
        Flag("force", "f", "bool", "Do not prompt for confirmation"),
    ), 0, 0, True, "volume:cmd_prune"),
}
_VOLUME_ALIASES = {"list": "ls", "remove": "rm"}

# Short top-level forms: `berth ps` is `berth container ps`, `berth images` is `berth image ls`.
_CONTAINER_SHORTCUTS = ("run", "create", "start", "ps", "logs", "stop", "kill", "rm", "wait", "exec", "attach",
                        "stats", "update", "port", "cp", "diff", "export", "pause", "unpause", "rename", "restart", "top")
_CONTAINER_ALIASES = {"ls": "ps", "list": "ps", "remove": "rm"}
_IMAGE_ALIASES = {"list": "ls", "remove": "rm", "rmi": "rm"}


# `berth --help`'s lists, as docker's (berth has no builder, context, manifest, plugin or trust)
COMMON = ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "version", "info")
MANAGEMENT = {"container": "Manage containers", "image": "Manage images", "network": "Manage networks",
              "system": "Manage berth", "volume": "Manage volumes"}
OTHERS = ("attach", "commit", "cp", "create", "diff", "events", "export", "history", "import", "inspect", "kill",
          "load", "logs", "pause", "port", "rename", "restart", "rm", "rmi", "save", "start", "stats", "stop", "tag",
          "top", "unpause", "update", "wait")


def subcommands(group: str) -> list[str]:
    """The subcommands of a management command (completion: client/complete.py)."""
    tables = {"container": [*_CONTAINER, *_CONTAINER_ALIASES], "image": [*_IMAGE, *_IMAGE_ALIASES],
              "volume": [*_VOLUME, *_VOLUME_ALIASES], "network": [*NETWORK_SUBS],
              "system": [*SYSTEM_SUBS, *_SYSTEM_ONLY]}
    return sorted(set(tables.get(group, [])) - {"rmi"})


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
    if first in ("network", "system") and (len(words) < 2 or words[1] in ("--help", "-h")):
        return None, first, 1
    if first == "volume":
        if len(words) < 2:
            return None, first, 1
        sub = _VOLUME_ALIASES.get(words[1], words[1])
        if sub not in _VOLUME:
            return None, first, 2
        spec, handler = _spec(f"volume {words[1]}", _VOLUME[sub], ())
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
    if first == "system":
        return None, first, 2
    return None, "", 1


def group_help(group: str) -> str:
    """`berth`, `berth container` and `berth image` without a subcommand."""
    if group == "container":
        table, usage, title = _CONTAINER, "Usage:  berth container COMMAND\n\nManage containers\n", "Commands"
    elif group == "image":
        table, usage, title = _IMAGE, "Usage:  berth image COMMAND\n\nManage images\n", "Commands"
    elif group == "volume":
        table, usage, title = _VOLUME, "Usage:  berth volume COMMAND\n\nManage volumes\n", "Commands"
    elif group in ("network", "system"):
        subs = NETWORK_SUBS if group == "network" else SYSTEM_SUBS
        table = {name: (summary,) for name, summary in subs.items()}
        usage = f"Usage:  berth {group} COMMAND\n\n{'Manage networks' if group == 'network' else 'Manage berth'}\n"
        title = "Commands"
    else:
        lines = ["Usage:  berth [OPTIONS] COMMAND", "", "A container engine that speaks Docker's API", "",
                 "Common Commands:"]
        for name in COMMON:  # docker's, in docker's order, but for `search` (berth has none)
            spec, _, _ = lookup([name])
            assert spec is not None
            lines.append(f"  {name:<11} {spec.summary}")
        lines += ["", "Management Commands:"]
        lines += [f"  {name:<11} {summary}" for name, summary in MANAGEMENT.items()]
        lines += ["", "Commands:"]
        for name in OTHERS:
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
