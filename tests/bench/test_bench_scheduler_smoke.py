"""Smoke run of the scheduler benchmark (bench/scheduler.py) at a tiny size, so that it keeps
working: every form of graph building runs, against the bare-asyncio baseline, and the report
has a row per form. Never checks how fast (timings on a shared machine are not test material);
no SSH, no root needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scheduler.py"
FORMS = ("coro-required", "coro-requires", "func-required", "func-requires")


def test_scheduler_bench_every_form_at_a_tiny_size():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "60", "--shapes", "dag"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split() for line in proc.stdout.splitlines() if line and line[0] != "#"]
    header, rows = rows[0], rows[1:]
    assert header[:3] == ["shape", "form", "jobs"]
    assert sorted((row[0], row[1]) for row in rows) == sorted(
        (shape, form) for shape in ("dag",) for form in FORMS
    )
    for row in rows:
        assert row[2] == "60"
        ours_s, base_s, ours_mb = float(row[3]), float(row[4]), float(row[9])
        assert ours_s > 0 and base_s > 0 and ours_mb >= 0, row  # a NaN fails too
