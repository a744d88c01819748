"""The committed gRPC modules are exactly what scripts/gen-proto makes from
proto/containerd.proto with the grpcio-tools that the test extra pins: a change to
the .proto cannot be committed without its modules, nor a module edited by hand."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATED = ["containerd_pb2.py", "containerd_pb2.pyi", "containerd_pb2_grpc.py"]


def test_the_committed_generated_modules_are_the_only_ones() -> None:
    committed = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "proto", "*_pb2*")))
    assert committed == GENERATED


def test_regenerating_proto_changes_nothing(tmp_path: Path) -> None:
    out = subprocess.run([os.path.join(ROOT, "scripts", "gen-proto"), str(tmp_path)],
                         env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(tmp_path)) == GENERATED
    for name in GENERATED:
        made = (tmp_path / name).read_bytes()
        committed = Path(ROOT, "proto", name).read_bytes()
        assert made == committed, f"proto/{name} is not what scripts/gen-proto makes: run it and commit"
