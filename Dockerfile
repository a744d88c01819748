# The berth playground's image (docker-compose.yml): berth installed from this
# repository on a Debian root that scripts/playground-base makes from Debian's package
# mirror alone, imported as berth-playground-base (README: "The playground").
ARG BASE=berth-playground-base
FROM ${BASE}
COPY . /src
# berth's dependencies come from the wheels the base carries: no index is reached
RUN python3 -m venv /opt/berth/venv \
    && /opt/berth/venv/bin/pip install -q --no-index --find-links /opt/berth-wheels /src \
    && for c in berth berthd berth-containerd berth-shim berth-runc; do ln -s /opt/berth/venv/bin/$c /usr/local/bin/$c; done \
    && rm -rf /src
# The inner engine's images and containers: a volume, so that its overlay mounts sit on
# the host's file system, not on the outer engine's overlay
VOLUME /var/lib/berth
ENTRYPOINT ["berthd"]
CMD ["-H", "unix:///run/playground/berth.sock", "--cgroup-parent", "berth-playground"]
