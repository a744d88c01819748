"""What a container's writable layer holds: SizeRw and SizeRootFs (`?size=1` on the list
and inspect, `ps -s`, `system df`) and docker's change list (GET /containers/{id}/changes,
`docker diff`), measured on the real upper dir of running and stopped containers, with
berth's CLI, the docker CLI and the docker SDK."""

from __future__ import annotations

import socket
import uuid

import docker
import httpx
import pytest
from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.daemon.test_exec import CLIS, cli

MIB = 1 << 20
# 1 MiB written, an image file changed, one deleted, a new directory, an opaque one
SCRIPT = ("head -c 1048576 /dev/zero > /tmp/big && echo x >> /etc/passwd && rm /etc/group"
          " && rm -rf /home && mkdir /home && touch /home/new"
          " && mkdir /newdir && ln /tmp/big /newdir/hardlink && touch /newdir/done && exec sleep 100000")
# docker's answer (moby pkg/archive changes.go over overlay2): Kind 0 C, 1 A, 2 D
EXPECTED = [("/etc", 0), ("/etc/group", 2), ("/etc/passwd", 0), ("/home", 2), ("/home/new", 1),
            ("/newdir", 1), ("/newdir/done", 1), ("/newdir/hardlink", 1), ("/tmp", 0), ("/tmp/big", 1)]


def _changes(api: httpx.Client, cid: str) -> list[tuple[str, int]] | None:
    r = api.get(f"/containers/{cid}/changes")
    assert r.status_code == 200, r.text
    got = r.json()
    return None if got is None else [(c["Path"], c["Kind"]) for c in got]


def _image_size(api: httpx.Client) -> int:
    return api.get("/images/busybox/json").json()["Size"]


@pytest.fixture(scope="module")
def changed(berthd: Berthd) -> str:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", SCRIPT]},
                            name=f"sizes-{uuid.uuid4().hex[:6]}")
        assert wait_until(lambda: ("/newdir/done", 1) in (_changes(api, cid) or [])), api.get(
            f"/containers/{cid}/logs", params={"stderr": 1}).content
    yield cid
    with berthd.client() as api:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_changes_are_dockers(api: httpx.Client, changed: str) -> None:
    assert _changes(api, changed) == EXPECTED


def test_size_rw_counts_the_written_bytes_once(api: httpx.Client, changed: str) -> None:
    shown = api.get(f"/containers/{changed}/json", params={"size": "1"}).json()
    # 1 MiB (its hard link not counted twice) and the appended /etc/passwd
    assert MIB < shown["SizeRw"] < MIB + 4096
    assert shown["SizeRootFs"] == shown["SizeRw"] + _image_size(api)
    assert "SizeRw" not in api.get(f"/containers/{changed}/json").json()
    listed = {c["Id"]: c for c in api.get("/containers/json", params={"size": "true"}).json()}
    assert (listed[changed]["SizeRw"], listed[changed]["SizeRootFs"]) == (shown["SizeRw"], shown["SizeRootFs"])
    assert "SizeRw" not in api.get("/containers/json").json()[0]
    df = {c["Id"]: c for c in api.get("/system/df").json()["Containers"]}
    assert df[changed]["SizeRw"] == shown["SizeRw"]


def test_a_fresh_container_has_no_changes_and_no_size(api: httpx.Client) -> None:
    """The runtime's mountpoints (/etc/hosts, ...) are not changes: dockerd keeps them in
    its init layer. Nothing changed: dockerd answers null, its list leaves SizeRw out."""
    cid = run_container(api, {"Image": "busybox", "Cmd": ["true"]})
    try:
        api.post(f"/containers/{cid}/wait")
        assert _changes(api, cid) is None
        shown = api.get(f"/containers/{cid}/json", params={"size": "1"}).json()
        assert (shown["SizeRw"], shown["SizeRootFs"]) == (0, _image_size(api))
        listed = [c for c in api.get("/containers/json", params={"all": 1, "size": 1}).json() if c["Id"] == cid]
        assert "SizeRw" not in listed[0] and listed[0]["SizeRootFs"] == _image_size(api)
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_a_stopped_container_answers_the_same(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "head -c 2097152 /dev/zero > /big && rm /etc/group"]})
    try:
        assert api.post(f"/containers/{cid}/wait").json()["StatusCode"] == 0
        assert _changes(api, cid) == [("/big", 1), ("/etc", 0), ("/etc/group", 2)]
        assert api.get(f"/containers/{cid}/json", params={"size": "1"}).json()["SizeRw"] == 2 * MIB
        with open("/proc/mounts") as f:  # measured in place: nothing mounted for it
            assert cid not in f.read()
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_unknown_container(api: httpx.Client, berthd: Berthd) -> None:
    r = api.get("/containers/nosuch/changes")
    assert (r.status_code, r.json()["message"]) == (404, "No such container: nosuch")
    assert api.get("/containers/nosuch/json", params={"size": 1}).status_code == 404
    for which in CLIS:
        r = cli(berthd, which, "diff", "nosuch")
        assert (r.returncode, r.stdout) == (1, "")
        assert "Error response from daemon: No such container: nosuch" in r.stderr


@pytest.mark.parametrize("which", CLIS)
def test_diff_prints_dockers_lines(berthd: Berthd, changed: str, which: str) -> None:
    r = cli(berthd, which, "diff", changed)
    assert r.returncode == 0, r.stderr
    letters = {0: "C", 1: "A", 2: "D"}
    assert r.stdout == "".join(f"{letters[k]} {p}\n" for p, k in EXPECTED)


@pytest.mark.parametrize("which", CLIS)
def test_ps_size_column(berthd: Berthd, api: httpx.Client, changed: str, which: str) -> None:
    shown = api.get(f"/containers/{changed}/json", params={"size": "1"}).json()
    want = f"{_human(shown['SizeRw'])} (virtual {_human(shown['SizeRootFs'])})"
    r = cli(berthd, which, "ps", "-s", "--filter", f"id={changed}")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split()[-1] == "SIZE" and row.endswith(want), r.stdout
    r = cli(berthd, which, "ps", "--filter", f"id={changed}", "--format", "{{.Names}} {{.Size}}")
    assert r.stdout == f"{shown['Name'][1:]} {want}\n"  # the template asks for sizes by itself


@pytest.mark.parametrize("which", CLIS)
def test_system_df_shows_the_container_size(berthd: Berthd, api: httpx.Client, changed: str, which: str) -> None:
    size = api.get(f"/containers/{changed}/json", params={"size": "1"}).json()["SizeRw"]
    r = cli(berthd, which, "system", "df", "-v")
    assert r.returncode == 0, r.stderr
    (row,) = [line for line in r.stdout.splitlines() if line.startswith(changed[:12])]
    assert _human(size) in row.split()
    r = cli(berthd, which, "system", "df")
    (containers,) = [line for line in r.stdout.splitlines() if line.startswith("Containers")]
    assert containers.split()[3] != "0B"


def test_the_sdk(berthd: Berthd, changed: str) -> None:
    sdk = docker.DockerClient(base_url=berthd.host, version="1.45")
    try:
        c = sdk.containers.get(changed)
        assert [(d["Path"], d["Kind"]) for d in c.diff()] == EXPECTED
        (listed,) = sdk.api.containers(size=True, filters={"id": changed})
        assert listed["SizeRw"] > MIB
        assert sdk.api.inspect_container(changed)["Id"] == changed
        with pytest.raises(docker.errors.NotFound):
            sdk.api.diff("nosuch")
    finally:
        sdk.close()


def _human(n: float) -> str:
    """go-units HumanSizeWithPrecision(n, 3), docker's SIZE."""
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return "%.3g%s" % (n, units[i])


# ------------------------------------------------------- ps --filter publish, expose
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def published(berthd: Berthd) -> tuple[str, str, int]:
    """One container publishing 80/tcp on a host port, one only exposing 53/udp and 8080/tcp."""
    port = _free_port()
    with berthd.client() as api:
        pub = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"], "ExposedPorts": {"80/tcp": {}},
                                  "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": str(port)}]}}})
        exp = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"],
                                  "ExposedPorts": {"53/udp": {}, "8080/tcp": {}}})
    yield pub, exp, port
    with berthd.client() as api:
        for cid in (pub, exp):
            api.delete(f"/containers/{cid}", params={"force": 1})


def _listed(api: httpx.Client, filters: str) -> set[str]:
    r = api.get("/containers/json", params={"filters": filters})
    assert r.status_code == 200, r.text
    return {c["Id"] for c in r.json()}


def test_publish_and_expose_filters(api: httpx.Client, published: tuple[str, str, int]) -> None:
    pub, exp, port = published
    mine = {pub, exp}
    # publish: the host port; expose: the container's port, published or not
    assert _listed(api, f'{{"publish": ["{port}"]}}') & mine == {pub}
    assert _listed(api, f'{{"publish": ["{port}/tcp"]}}') & mine == {pub}
    assert _listed(api, f'{{"publish": ["{port}/udp"]}}') & mine == set()
    assert _listed(api, '{"publish": ["80"]}') & mine == set()
    assert _listed(api, '{"expose": ["80"]}') & mine == {pub}
    assert _listed(api, '{"expose": ["53/udp"]}') & mine == {exp}
    assert _listed(api, '{"expose": ["53"]}') & mine == set()
    assert _listed(api, '{"expose": ["8000-8080/tcp"]}') & mine == {exp}
    assert _listed(api, '{"expose": ["70-80", "53/udp"]}') & mine == mine
    assert _listed(api, f'{{"publish": ["{port - 1}-{port + 1}"]}}') & mine == {pub}


def test_publish_and_expose_bad_values(api: httpx.Client) -> None:
    for filters, message in [
            ('{"publish": ["80:80"]}', "filter for 'publish' should not contain ':': 80:80"),
            ('{"expose": ["abc"]}', 'error while looking up for expose abc: strconv.ParseUint: parsing "abc": '
                                    'invalid syntax'),
            ('{"expose": ["90-80"]}', "error while looking up for expose 90-80: invalid range specified for "
                                      "port: 90-80"),
            ('{"publish": ["/tcp"]}', "error while looking up for publish /tcp: empty string specified for ports")]:
        r = api.get("/containers/json", params={"filters": filters})
        assert (r.status_code, r.json()["message"]) == (400, message)


@pytest.mark.parametrize("which", CLIS)
def test_ps_filters_with_the_clis(berthd: Berthd, published: tuple[str, str, int], which: str) -> None:
    pub, exp, port = published
    r = cli(berthd, which, "ps", "-q", "--no-trunc", "--filter", f"publish={port}/tcp")
    assert r.returncode == 0, r.stderr
    assert pub in r.stdout.split() and exp not in r.stdout.split()
    r = cli(berthd, which, "ps", "-q", "--no-trunc", "--filter", "expose=8000-8080/tcp")
    assert exp in r.stdout.split() and pub not in r.stdout.split()
    r = cli(berthd, which, "ps", "--filter", "expose=a:b")
    assert r.returncode == 1 and "should not contain ':'" in r.stderr
