"""berthd's daemon.json (--config-file): dockerd's keys, merged with the flags as dockerd
merges them, refused with dockerd's words (checked against Debian's dockerd itself
where it runs: its refusals happen before it starts anything). `berthd --validate`
reads the flags and the file and exits; one real berthd runs from a file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from tests.daemon.conftest import BERTHD, Berthd, _cleanup


def _validate(tmp_path, doc: object, *flags: str, raw: str | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "daemon.json"
    path.write_text(raw if raw is not None else json.dumps(doc))
    return subprocess.run([BERTHD, "--config-file", str(path), "--validate", *flags], capture_output=True, text=True,
                          timeout=60)


def _refused(r: subprocess.CompletedProcess, tmp_path, message: str) -> None:
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"unable to configure the Docker daemon with file {tmp_path / 'daemon.json'}: {message}\n"


def test_a_good_file(tmp_path):
    r = _validate(tmp_path, {"registry-mirrors": ["http://127.0.0.1:5000"], "insecure-registries": ["10.1.0.0/16"],
                             "debug": True, "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024,
                                                                           "Hard": 2048}},
                             "default-address-pools": [{"base": "10.77.0.0/16", "size": 24}],
                             "runtimes": {"other": {"path": "/usr/sbin/runc"}}, "no-new-privileges": True})
    assert (r.returncode, r.stdout, r.stderr) == (0, "configuration OK\n", "")


def test_unknown_keys(tmp_path):
    _refused(_validate(tmp_path, {"foo": 1, "bar": 2}), tmp_path,
             "the following directives don't match any configuration option: foo, bar")
    _refused(_validate(tmp_path, {"section": {"nested-unknown": 1}}), tmp_path,
             "the following directives don't match any configuration option: nested-unknown")


def test_keys_given_as_flags_too(tmp_path):
    r = _validate(tmp_path, {"debug": True, "log-level": "info", "data-root": "/x"},
                  "--debug", "--data-root", "/y", "-l", "info")
    _refused(r, tmp_path, "the following directives are specified both as a flag and in the configuration file: "
                          "data-root: (from flag: /y, from file: /x), debug: (from flag: true, from file: true), "
                          "log-level: (from flag: info, from file: info)")
    r = _validate(tmp_path, {"registry-mirrors": ["http://a"], "hosts": ["unix:///x"]},
                  "--registry-mirror", "http://b", "-H", "unix:///tmp/y.sock")
    _refused(r, tmp_path, "the following directives are specified both as a flag and in the configuration file: "
                          "hosts: (from flag: [unix:///tmp/y.sock], from file: [unix:///x]), "
                          "registry-mirrors: (from flag: [http://b/], from file: [http://a])")


def test_bad_values(tmp_path):
    _refused(_validate(tmp_path, {"debug": "yes"}), tmp_path,
             "json: cannot unmarshal string into Go struct field Config.debug of type bool")
    _refused(_validate(tmp_path, [], raw="[]"), tmp_path,
             "json: cannot unmarshal array into Go value of type map[string]interface {}")
    r = _validate(tmp_path, None, raw="{not json")
    assert r.returncode == 1 and "invalid JSON" in r.stderr
    r = _validate(tmp_path, {"registry-mirrors": ["ftp://a"]})
    assert (r.returncode, r.stderr) == (1, 'failed to start daemon: invalid mirror: unsupported scheme "ftp" in '
                                           '"ftp://a"\n')
    r = _validate(tmp_path, {"registry-mirrors": ["http://a/path"]})
    assert r.stderr == 'failed to start daemon: invalid mirror: path, query, or fragment at end of the URI ' \
                       '"http://a/path"\n'
    r = _validate(tmp_path, {"insecure-registries": ["ftp://x"]})
    assert r.returncode == 1 and "insecure registry ftp://x should not contain '://'" in r.stderr


def test_the_file_must_exist_only_when_named(tmp_path):
    missing = tmp_path / "nope.json"
    r = subprocess.run([BERTHD, "--config-file", str(missing), "--validate"], capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stderr) == (1, f"unable to configure the Docker daemon with file {missing}: "
                                           f"open {missing}: no such file or directory\n")
    if not os.path.exists("/etc/berth/daemon.json"):  # the default may be absent
        r = subprocess.run([BERTHD, "--validate"], capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stdout) == (0, "configuration OK\n")


@pytest.mark.skipif(not shutil.which("dockerd"), reason="Debian's dockerd is not installed")
@pytest.mark.parametrize("doc", [{"foo": 1}, {"debug": "yes"}])
def test_dockerd_says_the_same(tmp_path, doc):
    """dockerd refuses these while reading its flags, before it starts anything."""
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(doc))
    root = tempfile.mkdtemp(prefix="berth-dockerd-cfg-")
    try:
        theirs = subprocess.run(["dockerd", "--config-file", str(path), "--data-root", f"{root}/d",
                                 "--exec-root", f"{root}/e", "-H", f"unix://{root}/s.sock",
                                 "--pidfile", f"{root}/p"], capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ours = subprocess.run([BERTHD, "--config-file", str(path), "--validate"], capture_output=True, text=True,
                          timeout=60)
    assert theirs.returncode == ours.returncode == 1
    assert ours.stderr.strip() in theirs.stderr


def test_a_berthd_runs_from_its_file():
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="berthd-cfg-")
    os.chmod(root, 0o755)
    path = os.path.join(root, "daemon.json")
    with open(path, "w") as f:
        json.dump({"registry-mirrors": ["http://127.0.0.1:1"], "insecure-registries": ["myreg.example:5000"],
                   "debug": True}, f)
    d = Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}",
               extra_args=["--config-file", path])
    try:
        d.start()
        with d.client() as c:
            info = c.get("/info").json()
        assert info["Debug"] is True
        assert info["RegistryConfig"]["Mirrors"] == ["http://127.0.0.1:1/"]
        assert "myreg.example:5000" in info["RegistryConfig"]["IndexConfigs"]
    finally:
        _cleanup(d)
