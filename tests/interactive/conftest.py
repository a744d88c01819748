"""The private engine of tests/daemon (its own roots, socket, cgroup parent), reused."""

from tests.daemon.conftest import api, berthd  # noqa: F401  (fixtures)
