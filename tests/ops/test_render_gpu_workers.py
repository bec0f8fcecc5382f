"""Several GPUs: one render worker process per GPU (CUDA_VISIBLE_DEVICES), each taking one job at a time.

Production runs ``rundramatiq --queues render --threads 1`` once per GPU with
``CUDA_VISIBLE_DEVICES=<n>`` and ``dramatiq_queue_prefetch=1`` (README,
"Several GPUs"). Here two such workers run on the CPU (previz): two jobs
queued together must be rendered at the same time by the two workers, not one
after the other by whichever worker fetched first.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.ops.conftest import topology_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]

GPUS = ("0", "1")

SUBMIT = """
from django.contrib.auth import get_user_model
from personas.demo import ensure_demo_persona
from rendering.services import render_job_request

persona = ensure_demo_persona()
user, _ = get_user_model().objects.get_or_create(username="gpu-owner")
beat = {"setting": "a harbour at dusk", "action": "she waves from the pier", "duration_s": 3.0, "seed": 7}
jobs = [render_job_request(persona=persona, beat={**beat, "seed": 7 + i}, requested_by=user,
                           source="test", idempotency_key=f"gpu-{i}")[0] for i in range(2)]
print(json.dumps([str(job.pk) for job in jobs]))
"""

STATUS = """
from rendering.models import RenderJob
jobs = RenderJob.objects.filter(pk__in={ids!r})
print(json.dumps({{str(j.pk): [j.status, j.started_at.timestamp() if j.started_at else None,
                               j.finished_at.timestamp() if j.finished_at else None] for j in jobs}}))
"""


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    topo = topology_or_skip(tmp_path_factory.mktemp("gpus"), web_count=1, render_gpus=GPUS)
    yield topo
    topo.stop()


def worker_of(topology, job_id: str) -> list[str]:
    """The render worker processes whose JSON log lines name ``job_id``."""
    found = []
    for gpu in GPUS:
        name = f"worker-render-gpu{gpu}"
        lines = topology.log_tail(name, 500_000).splitlines()
        if any(json.loads(line).get("job_id") == job_id for line in lines if line.startswith("{")):
            found.append(name)
    return found


def test_two_jobs_render_at_once_one_on_each_gpu_worker(topology):
    for gpu in GPUS:  # each worker sees only its own GPU
        assert topology.processes[f"worker-render-gpu{gpu}"].env["CUDA_VISIBLE_DEVICES"] == gpu

    ids = topology.django(SUBMIT)
    deadline = time.monotonic() + 180
    while True:
        state = topology.django(STATUS.format(ids=ids))
        if all(status == "succeeded" for status, _, _ in state.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [status for status, _, _ in state.values()] == ["succeeded", "succeeded"], state

    (_, start_a, end_a), (_, start_b, end_b) = state.values()
    assert start_a < end_b and start_b < end_a, f"rendered one after the other, not at once: {state}"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(worker_of(topology, job) for job in ids):
        time.sleep(0.2)
    workers = [worker_of(topology, job) for job in ids]
    assert sorted(w for names in workers for w in names) == [f"worker-render-gpu{gpu}" for gpu in GPUS], workers
