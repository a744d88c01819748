"""runc's global command line under both runtimes: --version, checkpoint/restore, --debug."""

from __future__ import annotations

import json
import re


def _lines(text: str) -> list[str]:
    return text.strip().splitlines()


def test_version_prints_runcs_lines(runtimes):
    seen = {name: _lines(rt("--version", check=True).stdout) for name, rt in runtimes.items()}
    runc, berth = seen["runc"], seen["berth-runc"]
    assert re.fullmatch(r"berth-runc version \S+", berth[0]) and re.fullmatch(r"runc version \S+", runc[0])
    # commit, spec, the language runtime, libseccomp: the same lines in the same order
    assert [line.split(":")[0] for line in berth[1:]] == ["commit", "spec", "python", "libseccomp"]
    assert [line.split(":")[0] for line in runc[1:]] == ["commit", "spec", "go", "libseccomp"]
    assert berth[2] == runc[2] == "spec: 1.0.2-dev"  # the OCI version both implement
    assert berth[4] == runc[4]  # the same libseccomp, loaded by each
    assert len(berth[1].split(": ", 1)[1]) > 0


def _flag_names(help_text: str) -> set[str]:
    """The flags an urfave help's OPTIONS section lists (not its help flag)."""
    names = set(re.findall(r"^\s+(--[a-z-]+)", help_text.split("OPTIONS:", 1)[1], re.M))
    return names - {"--help"}


def test_checkpoint_and_restore_answer_their_help_with_runcs_flags(runtimes):
    for verb in ("checkpoint", "restore"):
        seen = {name: rt(verb, "--help") for name, rt in runtimes.items()}
        assert [o.returncode for o in seen.values()] == [0, 0], verb
        for name, out in seen.items():
            assert out.stdout.startswith(f"NAME:\n   {name} {verb} - "), out.stdout
        assert _flag_names(seen["berth-runc"].stdout) == _flag_names(seen["runc"].stdout), verb


def test_checkpoint_and_restore_refuse_in_a_clear_error(runtimes, berth_runc, bundle, cid):
    for name, rt in runtimes.items():  # an unknown container first, as runc
        out = rt("checkpoint", "no-such-container")
        assert (out.returncode, out.stderr.strip().endswith('msg="container does not exist"')) == (1, True), name
    berth_runc("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    out = berth_runc("checkpoint", "--image-path", "/nonexistent", cid)
    assert out.returncode == 1 and "checkpoint is not supported by berth-runc" in out.stderr, out.stderr
    assert berth_runc.state(cid)["status"] == "running"
    out = berth_runc("restore", "--bundle", bundle(["true"]), "restored")
    assert out.returncode == 1 and "restore is not supported by berth-runc" in out.stderr, out.stderr
    assert berth_runc.ids() == [cid]


def _debug_facts(entries: list[dict]) -> tuple:
    """What both runtimes' debug logs of a foreground run say alike."""
    debug = [e for e in entries if e.get("level") == "debug"]
    exited = [e for e in debug if e.get("msg") == "process exited"]
    return (len(debug) > 1, [(e.get("status"), isinstance(e.get("pid"), int)) for e in exited])


def test_debug_writes_level_debug_lines_to_the_log_in_runcs_formats(runtimes, bundle, tmp_path):
    b = bundle(["true"])
    for fmt in ("text", "json"):
        seen = {}
        for name, rt in runtimes.items():
            log = tmp_path / f"{name}-{fmt}.log"
            out = rt("--debug", "--log", str(log), "--log-format", fmt, "run", "--bundle", b, f"dbg-{fmt}")
            text = log.read_text()
            if fmt == "json":
                entries = [json.loads(line) for line in text.splitlines()]
            else:
                entries = []
                for line in text.splitlines():
                    fields = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
                    entry = {k: json.loads(v) if v.startswith('"') else (int(v) if v.isdigit() else v)
                             for k, v in fields.items()}
                    entries.append(entry)
            assert all(set(e) >= {"time", "level", "msg"} for e in entries), (name, text)
            seen[name] = (out.returncode, out.stderr, _debug_facts(entries))
        assert seen["berth-runc"] == seen["runc"] == (0, "", (True, [(0, True)])), fmt


def test_debug_errors_name_their_caller(runtimes):
    """logrus with ReportCaller (runc's --debug) adds func= and file= to every line."""
    for name, rt in runtimes.items():
        out = rt("--debug", "state", "no-such-container")
        assert out.returncode == 1
        assert re.search(r'msg="container does not exist" func="[^"]+\(\)" file="[^"]+:\d+"$', out.stderr.strip()), \
            (name, out.stderr)
