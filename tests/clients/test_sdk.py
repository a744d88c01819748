"""The docker SDK for Python 7.x against berthd, one user story per family, written the
way its documentation shows the calls: containers, images, networks, exec."""

from __future__ import annotations

import socket
import uuid

import docker
import pytest
from docker.errors import APIError, ImageNotFound, NotFound
from tests.daemon.conftest import Berthd, wait_until
from tests.images.registry import Registry
from tests.network.conftest import host_state

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]


def _get(port: int, path: str = "/hostname") -> bytes:
    """An HTTP GET of the host's own 127.0.0.1 (busybox httpd answers HTTP/1.0)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = bytearray()
        while chunk := s.recv(1 << 16):
            data += chunk
    return bytes(data).split(b"\r\n\r\n", 1)[1]


def _state(d: Berthd, sdk: docker.DockerClient) -> dict:
    """host_state, with the SDK's keep-alive connections to berthd closed first (they
    are counted among berthd's sockets, beside the published ports it holds)."""
    sdk.close()
    return host_state(d)


# ------------------------------------------------------------------------- containers

def test_containers_run_logs_wait_exec_stop_remove(sdk: docker.DockerClient) -> None:
    c = sdk.containers.run("busybox", ["sh", "-c", "echo ready; echo warn >&2; exec sleep 300"], detach=True,
                           name="sdk-app", labels={"app": "sdk", "tier": "back"}, environment={"MODE": "test"})
    sdk.containers.run("busybox", "sleep 300", detach=True, name="sdk-other", labels={"app": "other"})
    try:
        assert wait_until(lambda: c.logs() == b"ready\nwarn\n")
        assert c.logs(stderr=False) == b"ready\n" and c.logs(stdout=False) == b"warn\n"
        assert c.logs(stream=True, follow=False).__next__().startswith(b"ready")
        c.reload()
        assert c.status == "running" and c.name == "sdk-app" and c.labels == {"app": "sdk", "tier": "back"}
        assert c.attrs["Config"]["Image"] == "busybox" and "MODE=test" in c.attrs["Config"]["Env"]
        assert c.attrs["State"]["Running"] is True and c.attrs["State"]["Pid"] > 0
        assert c.image.tags == ["busybox:latest"]
        code, out = c.exec_run("sh -c 'echo $MODE; id -u'")
        assert (code, out) == (0, b"test\n0\n")
        code, out = c.exec_run(["sh", "-c", "exit 3"])
        assert code == 3
        # list, with the filters its documentation shows
        assert {x.name for x in sdk.containers.list(filters={"label": "app=sdk"})} == {"sdk-app"}
        assert {x.name for x in sdk.containers.list(filters={"label": "app"})} == {"sdk-app", "sdk-other"}
        assert [x.name for x in sdk.containers.list(filters={"name": "sdk-oth"})] == ["sdk-other"]
        assert [x.id for x in sdk.containers.list(filters={"id": c.id[:12]})] == [c.id]
        assert [x.name for x in sdk.containers.list(filters={"ancestor": "busybox", "label": "tier=back"})] == [
            "sdk-app"]
        assert sdk.containers.get("sdk-app").id == c.id == sdk.containers.get(c.short_id).id
        c.stop(timeout=1)
        assert c.wait()["StatusCode"] == 137
        c.reload()
        assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 137
        assert [x.name for x in sdk.containers.list()] == ["sdk-other"]
        # a status filter implies all, as in Docker
        assert [x.name for x in sdk.containers.list(filters={"status": "exited"})] == ["sdk-app"]
        assert [x.name for x in sdk.containers.list(all=True, filters={"exited": 137})] == ["sdk-app"]
        c.start()
        c.reload()
        assert c.status == "running"
        c.kill()
        assert c.wait(timeout=30)["StatusCode"] == 137
        c.remove()
        with pytest.raises(NotFound):
            sdk.containers.get("sdk-app")
    finally:
        for x in sdk.containers.list(all=True, filters={"label": "app"}):
            x.remove(force=True)


def test_containers_run_in_the_foreground_and_its_errors(sdk: docker.DockerClient) -> None:
    assert sdk.containers.run("busybox", "echo hello world", remove=True) == b"hello world\n"
    with pytest.raises(docker.errors.ContainerError) as err:
        sdk.containers.run("busybox", ["sh", "-c", "echo boom >&2; exit 4"], remove=True)
    assert err.value.exit_status == 4 and b"boom" in err.value.stderr
    assert sdk.containers.list(all=True) == []


def test_containers_port_bindings_reached_on_127_0_0_1(berthd: Berthd, sdk: docker.DockerClient) -> None:
    before = _state(berthd, sdk)
    c = sdk.containers.run("busybox", HTTPD, detach=True, name="sdk-web", ports={"80/tcp": None})
    try:
        c.reload()
        bound = c.ports["80/tcp"]
        assert bound[0]["HostIp"] == "0.0.0.0"
        port = int(bound[0]["HostPort"])
        assert c.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"] == str(port)
        assert _get(port) == c.id[:12].encode() + b"\n"
        fixed = sdk.containers.run("busybox", HTTPD, detach=True, name="sdk-web2",
                                   ports={"80/tcp": ("127.0.0.1", 18741)})
        fixed.reload()
        assert fixed.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18741"}]}
        assert _get(18741) == fixed.id[:12].encode() + b"\n"
        with pytest.raises(APIError) as err:
            sdk.containers.run("busybox", HTTPD, detach=True, name="sdk-web3", ports={"80/tcp": 18741})
        assert "port is already allocated" in str(err.value)
    finally:
        for name in ("sdk-web", "sdk-web2", "sdk-web3"):
            try:
                sdk.containers.get(name).remove(force=True)
            except NotFound:
                pass
    assert wait_until(lambda: _state(berthd, sdk) == before), (before, _state(berthd, sdk))


# ------------------------------------------------------------------------- images

def test_images_list_get_tag_history_remove(sdk: docker.DockerClient) -> None:
    busybox = sdk.images.get("busybox")
    assert "busybox:latest" in busybox.tags and busybox.id.startswith("sha256:")
    assert busybox.id in {i.id for i in sdk.images.list()}
    assert [i.id for i in sdk.images.list(name="busybox")] == [busybox.id]
    assert busybox.attrs["Os"] == "linux" and busybox.attrs["Architecture"]
    assert busybox.tag("sdk/mine", tag="v1") is True
    mine = sdk.images.get("sdk/mine:v1")
    assert mine.id == busybox.id and set(mine.tags) >= {"busybox:latest", "sdk/mine:v1"}
    assert [i.id for i in sdk.images.list(filters={"reference": "sdk/*"})] == [busybox.id]
    history = busybox.history()
    assert history and all("Created" in h and "Size" in h for h in history)
    assert history[0]["Id"] == busybox.id
    sdk.images.remove("sdk/mine:v1")
    with pytest.raises(ImageNotFound):
        sdk.images.get("sdk/mine:v1")
    assert "busybox:latest" in sdk.images.get("busybox").tags
    with pytest.raises(ImageNotFound):
        sdk.images.remove("no-such-image-here")


def test_images_push_to_and_pull_from_a_local_registry(sdk: docker.DockerClient, registry: Registry) -> None:
    repo = f"{registry.host}/sdk/busybox-{uuid.uuid4().hex[:6]}"
    assert sdk.images.get("busybox").tag(repo, tag="v1")
    lines = list(sdk.images.push(repo, tag="v1", stream=True, decode=True))
    assert not [x for x in lines if "error" in x], lines
    digest = next(x["aux"]["Digest"] for x in lines if "aux" in x)
    assert digest.startswith("sha256:")
    sdk.images.remove(f"{repo}:v1")
    with pytest.raises(ImageNotFound):
        sdk.images.get(f"{repo}:v1")
    pulled = sdk.images.pull(repo, tag="v1")
    assert f"{repo}:v1" in pulled.tags
    assert pulled.attrs["RepoDigests"] == [f"{repo}@{digest}"]
    assert sdk.containers.run(f"{repo}:v1", "echo pulled", remove=True) == b"pulled\n"
    with pytest.raises(NotFound):
        sdk.images.pull(f"{registry.host}/sdk/never-pushed", tag="v1")
    with pytest.raises(NotFound):  # run pulls what is not here; what is nowhere is an error
        sdk.containers.run(f"{registry.host}/sdk/never-pushed:v1", "true", remove=True)
    sdk.images.remove(f"{repo}:v1")


# ------------------------------------------------------------------------- networks

def _fetch(sdk: docker.DockerClient, network: str, target: str) -> str:
    """busybox's wget crashes (Debian's static build); nc speaks HTTP well enough."""
    out = sdk.containers.run("busybox", ["sh", "-c", f"printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 80"
                                         " | tail -1"], network=network, remove=True)
    return out.decode().strip()


def test_networks_create_connect_disconnect_reach_by_name_remove_prune(berthd: Berthd,
                                                                       sdk: docker.DockerClient) -> None:
    before = _state(berthd, sdk)
    net = sdk.networks.create("sdk-net", driver="bridge", labels={"sdk": "yes"})
    spare = sdk.networks.create("sdk-spare")
    try:
        assert net.name == "sdk-net" and sdk.networks.get(net.id).attrs["Driver"] == "bridge"
        assert [n.name for n in sdk.networks.list(names=["sdk-net"])] == ["sdk-net"]
        assert [n.name for n in sdk.networks.list(filters={"label": "sdk=yes"})] == ["sdk-net"]
        web = sdk.containers.run("busybox", HTTPD, detach=True, name="sdk-web", network="sdk-net")
        assert _fetch(sdk, "sdk-net", "sdk-web") == web.id[:12]
        # a container on another network does not reach it, until it is connected
        client = sdk.containers.run("busybox", "sleep 300", detach=True, name="sdk-client")
        web.reload()
        web_ip = web.attrs["NetworkSettings"]["Networks"]["sdk-net"]["IPAddress"]
        probe = "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {} 80 | tail -1"
        # by address: a name unknown here would be asked of the host's resolver
        assert web.id[:12].encode() not in client.exec_run(["sh", "-c", probe.format(web_ip)]).output
        net.connect(client, aliases=["front"])
        net.reload()
        assert {c.name for c in net.containers} == {"sdk-web", "sdk-client"}
        assert client.exec_run(["sh", "-c", probe.format("sdk-web")]).output.strip() == web.id[:12].encode()
        assert b"1 packets received" in sdk.containers.run("busybox", "ping -c1 -W3 front", network="sdk-net",
                                                           remove=True)
        client.reload()
        assert set(client.attrs["NetworkSettings"]["Networks"]) == {"bridge", "sdk-net"}
        net.disconnect(client)
        client.reload()
        assert set(client.attrs["NetworkSettings"]["Networks"]) == {"bridge"}
        assert web.id[:12].encode() not in client.exec_run(["sh", "-c", probe.format(web_ip)]).output
        # what docker-compose does to each container it creates: off its only network,
        # then on again with its aliases; NetworkMode stays, as in dockerd
        late = sdk.containers.create("busybox", HTTPD, name="sdk-late", network="sdk-net")
        net.disconnect(late)
        late.reload()
        assert late.attrs["HostConfig"]["NetworkMode"] == "sdk-net" and late.attrs["NetworkSettings"]["Networks"] == {}
        net.connect(late, aliases=["late-alias"])
        late.start()
        assert _fetch(sdk, "sdk-net", "late-alias") == late.id[:12]
        late.remove(force=True)
        with pytest.raises(APIError):
            net.remove()  # sdk-web is still on it
        web.remove(force=True)
        client.remove(force=True)
        net.remove()
        with pytest.raises(NotFound):
            sdk.networks.get("sdk-net")
        pruned = sdk.networks.prune()
        assert "sdk-spare" in (pruned["NetworksDeleted"] or [])
        assert {n.name for n in sdk.networks.list()} == {"bridge", "host", "none"}
    finally:
        for x in sdk.containers.list(all=True):
            x.remove(force=True)
        for n in (net, spare):
            try:
                n.remove()
            except NotFound:
                pass
    assert wait_until(lambda: _state(berthd, sdk) == before), (before, _state(berthd, sdk))


# ------------------------------------------------------------------------- exec

def test_exec_run_stream_demux_environment_workdir_user(sdk: docker.DockerClient) -> None:
    c = sdk.containers.run("busybox", "sleep 300", detach=True, name="sdk-exec")
    try:
        r = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        assert r.exit_code == 0 and r.output == (b"out\n", b"err\n")
        r = c.exec_run(["sh", "-c", "echo only-err >&2"], demux=True)
        assert r.output == (None, b"only-err\n")
        r = c.exec_run("sh -c 'echo $GREETING $OTHER; pwd'", environment={"GREETING": "hi", "OTHER": "there"},
                       workdir="/tmp")
        assert r == (0, b"hi there\n/tmp\n")
        r = c.exec_run("sh -c 'echo $A'", environment=["A=from-list"])
        assert r.output == b"from-list\n"
        r = c.exec_run("id", user="nobody")
        assert r.output.startswith(b"uid=65534(nobody) gid=65534(nogroup)")
        r = c.exec_run("id -u", user="1234:5678")
        assert r.output == b"1234\n"
        r = c.exec_run(["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"], stream=True)
        assert r.exit_code is None
        assert b"".join(r.output) == b"line1\nline2\nline3\n"
        r = c.exec_run(["sh", "-c", "echo a; echo b >&2"], stream=True, demux=True)
        parts = list(r.output)
        assert b"".join(o for o, _ in parts if o) == b"a\n" and b"".join(e for _, e in parts if e) == b"b\n"
        r = c.exec_run(["sh", "-c", "test -t 1 && echo tty"], tty=True)
        assert r.output == b"tty\r\n"
        # the low-level API the high-level call is made of: create, start, inspect
        eid = sdk.api.exec_create(c.id, ["sh", "-c", "exit 7"])["Id"]
        sdk.api.exec_start(eid)
        assert sdk.api.exec_inspect(eid)["ExitCode"] == 7
        r = c.exec_run("no-such-command")
        assert r.exit_code == 126 or r.exit_code == 127
    finally:
        c.remove(force=True)
