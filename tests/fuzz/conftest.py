"""Fuzz runs count what they sent and got; the totals are printed at the end of the module."""

from __future__ import annotations

from collections import Counter

import pytest


@pytest.fixture(scope="module")
def tally(request):
    counts: Counter[str] = Counter()
    yield counts
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and counts:
        summary = ", ".join(f"{key}={value}" for key, value in sorted(counts.items()))
        reporter.write_line(f"\n[fuzz {request.module.__name__.rsplit('.', 1)[-1]}] {summary}")
