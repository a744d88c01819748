"""One private berthd for the clients' package (tests/daemon's), a docker SDK client on it,
and Debian's docker-registry on 127.0.0.1 (tests/images') for pull and push."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from tests.daemon.conftest import Berthd, api, berthd  # noqa: F401  (fixtures)
from tests.images.conftest import registry  # noqa: F401  (fixture: Debian's docker-registry)


@pytest.fixture
def sdk(berthd: Berthd) -> Iterator[docker.DockerClient]:
    """The SDK as its documentation starts it: from the environment (DOCKER_HOST)."""
    client = docker.from_env(environment=berthd.env)
    yield client
    client.close()
