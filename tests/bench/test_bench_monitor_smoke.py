"""Smoke runs of bench/monitor.py and bench/report_size.py at tiny sizes: they keep working
(what is checked is that they ran and reported, never how fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_monitor_bench_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "monitor.py"),
            "--jobs",
            "200",
            "--repeat",
            "1",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for mode in ("none", "subscriber", "plain", "tty"):
        assert f"  {mode} " in done.stdout


def test_report_size_bench_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "report_size.py"),
            "--nodes",
            "2",
            "--jobs-per-node",
            "3",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "6 jobs on 2 sandbox nodes" in done.stdout
    assert (tmp_path / "report.html").stat().st_size > 0
    assert (tmp_path / "from-events.html").stat().st_size > 0
