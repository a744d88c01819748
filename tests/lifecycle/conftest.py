"""The private berthd of tests/daemon (its own roots, socket, cgroup parent, network), for
the tests of restart policies, health checks, --init, log rotation and the rest."""

from __future__ import annotations

from tests.daemon.conftest import Berthd, api, berthd  # noqa: F401  (fixtures)
