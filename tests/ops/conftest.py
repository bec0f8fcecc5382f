"""The 2 Daphne + 2 worker topology as a fixture (real PostgreSQL, a private redis-server)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import POSTGRES_URL, require_service
from tests.support.topology import Topology


def topology_or_skip(workdir, **kwargs) -> Topology:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    return Topology(workdir=workdir, postgres_url=POSTGRES_URL, **kwargs).start()


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    topo = topology_or_skip(tmp_path_factory.mktemp("topology"))
    yield topo
    topo.stop()
