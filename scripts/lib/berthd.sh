# Sourced by scripts/install and scripts/uninstall (not a command): the berthd that
# scripts/install starts, found and stopped by its pidfile and nothing else, so that
# other engines on the machine (the tests' private ones) are never touched.

BERTHD_PIDFILE=/run/berth/berthd.pid
# Written by berthd's managed berth-containerd (daemon/libcontainerd/supervisor.py), in berthd's exec-root.
CONTAINERD_PIDFILE=/run/berth/berth-containerd.pid
CONTAINERD_ADDRESS=/run/berth/containerd.sock

# berth_systemd: systemd runs this machine (sd_booted's test), so berthd is its service
berth_systemd() {
    [ -d /run/systemd/system ]
}

# bash completion for berth (contrib/completion/bash/berth): where bash-completion looks,
# which plain bash users may source themselves
BERTH_COMPLETION=/usr/share/bash-completion/completions/berth

# The units scripts/install installs where systemd runs (contrib/systemd/), in start order.
BERTH_UNITS="berth-containerd.service berth.socket berth.service"

# berth_write_units DIR PREFIX: the units into DIR with ExecStart at PREFIX's commands
berth_write_units() {
    for unit in $BERTH_UNITS; do
        sed "s|^ExecStart=/usr/local/bin/|ExecStart=$2/venv/bin/|" "contrib/systemd/$unit" >"$1/$unit"
    done
}

# _berth_alive PID ARG: PID runs (a zombie has ended: PID 1 here reaps no orphans)
# and has ARG among its arguments, so a stale pidfile's recycled PID is not ours.
_berth_alive() {
    [ -r "/proc/$1/stat" ] || return 1
    case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) in
        ''|Z|X) return 1 ;;
    esac
    tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$2"
}

# _berth_stop PIDFILE ARG: SIGTERM the process the pidfile names, SIGKILL after 30 s.
_berth_stop() {
    [ -r "$1" ] || return 0
    pid=$(cat "$1")
    case $pid in ''|*[!0-9]*) return 0 ;; esac
    _berth_alive "$pid" "$2" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    i=0
    while _berth_alive "$pid" "$2"; do
        i=$((i + 1))
        [ $i -eq 300 ] && kill -KILL "$pid" 2>/dev/null
        sleep 0.1
    done
}

# berthd_stop: the installed berthd, then its berth-containerd. A berthd that exits
# cleanly has already stopped the containerd (and removed its pidfile); one that had
# to be killed leaves it running. Shims and containers carry on either way.
berthd_stop() {
    # the units: through systemd, which would otherwise see them fail; the socket too,
    # or a connection to it would start berthd again (on the old code, mid-upgrade)
    if berth_systemd; then
        for unit in berth.socket berth.service berth-containerd.service; do
            if systemctl is-active --quiet "$unit" 2>/dev/null; then
                systemctl stop "$unit"
            fi
        done
    fi
    _berth_stop "$BERTHD_PIDFILE" "$BERTHD_PIDFILE"
    _berth_stop "$CONTAINERD_PIDFILE" "$CONTAINERD_ADDRESS"
}
