"""Fault tests run the real process topology (tests/ops/conftest.py) with fast sweeper settings."""

from __future__ import annotations

import pytest

from tests.ops.conftest import topology_or_skip
from tests.support.wsclient import seed_snippet

# Seconds, not minutes: the sweeper must act within the test's time box.
FAST_SWEEP = {
    "SWEEP_INTERVAL_S": "1",
    "SWEEP_HEARTBEAT_S": "0.5",
    "SWEEP_RENDER_STALE_S": "4",
    "SWEEP_QUEUED_LOST_S": "3",
    # Above chat.replies.HEARTBEAT_S (10 s): a live reply touches its row at least that often, also
    # while it waits for its first token; 3 s here swept live replies whose prompt took longer.
    "SWEEP_STREAM_STALE_S": "15",
    "SWEEPER_IN_WORKERS": "1",
}


@pytest.fixture
def make_topology(tmp_path):
    started = []

    def make(**env):
        topo = topology_or_skip(tmp_path / f"topo{len(started)}", env_extra={**FAST_SWEEP, **env})
        started.append(topo)
        return topo

    yield make
    for topo in started:
        topo.stop()


def seed(topo, count: int = 1, prefix: str = "fault") -> list[dict]:
    return topo.django(seed_snippet(count=count, prefix=prefix))
