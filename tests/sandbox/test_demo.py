"""The demo (the README's first set-up command) does what it announces and leaves nothing behind."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sshjobs import demo

TOP = Path(__file__).resolve().parents[2]


def processes_inside(directory: Path) -> list[int]:
    """Pids of processes whose working directory is under ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if cwd == str(directory) or cwd.startswith(f"{directory}/"):
                found.append(int(proc.name))
    return found


def test_bin_demo_runs_the_whole_scenario(tmp_path):
    output = tmp_path / "demo"
    done = subprocess.run(
        [str(TOP / "bin" / "demo"), "-o", str(output)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # nodes prepared in parallel behind the gateway, with the pushed script and its arguments
    for index in range(1, 5):
        assert f"node{index} | prepared {4 + index} samples in " in out
        samples = (output / f"node{index}" / "results" / "samples.txt").read_text().splitlines()
        assert len(samples) == 4 + index and samples[0].startswith(f"node{index} sample 1 ")
    # a value captured on node1, used on the other nodes
    server = re.search(r"server = (node1:\d+)", out).group(1)
    for index in range(2, 5):
        assert (output / f"node{index}/results/client.log").read_text() == f"talking to {server}\n"
    # the non-critical failure is shown as such, the run is still OK
    assert "sensor not responding" in done.stderr
    assert "non-critical step failed (the run went on): optional sensor on node3 (exit 3)" in out
    assert "overall: OK - 14 jobs, 14 done" in out
    # list(), and the graph
    assert "--- list()" in out and "<SshJob `pull results of node4`>" in out
    if shutil.which("dot"):
        assert f"graph: {output}/demo-graph.svg" in out
        assert (output / "demo-graph.svg").read_text().lstrip().startswith("<?xml")
    # the run report next to the graph: one row per job, grouped by node
    assert f"report: {output}/demo-report.html" in out
    page = (output / "demo-report.html").read_text()
    assert page.count("data-job=") == 14 and 'data-node="node3"' in page
    assert re.search(r'data-job="optional sensor on node3"[^>]*data-outcome="failed"', page)
    assert not processes_inside(output)


def test_demo_without_graphviz_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    out = io.StringIO()
    report = demo.run_demo(tmp_path, 1, out)
    assert report.ok and report.graph is None
    assert "graph: graphviz 'dot' not found" in out.getvalue()
    assert report.failed_optional == ["optional sensor on node1 (exit 3)"]
    assert [path.name for path in report.pulled["node1"]] == ["samples.txt", "server.log"]


@pytest.mark.parametrize("nodes", ["0", "51"])
def test_demo_refuses_a_bad_node_count(nodes):
    done = subprocess.run(
        [sys.executable, "-m", "sshjobs.demo", "-n", nodes],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"--nodes must be between 1 and 50, not {nodes}" in done.stderr


def test_sshjobs_demo_command(tmp_path):
    sshjobs = str(Path(sys.executable).with_name("sshjobs"))
    done = subprocess.run(
        [sshjobs, "demo", "-n", "2", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "overall: OK - 8 jobs, 8 done" in done.stdout
    assert (tmp_path / "node2/results/client.log").exists()
