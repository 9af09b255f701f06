"""Smoke runs of the benchmarks (bench/*.py) on a few hosts, so that they keep working.

Each benchmark runs as its own process, exactly as documented in bench/README.md but with tiny
sizes, starts its own farm and must leave nothing behind. What is checked is that every tool
reached every host and the report was produced - never how fast (timings on a shared 2-core
machine are not test material).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.network import netem_supported

TOP = Path(__file__).resolve().parents[2]
BENCH = TOP / "bench"
PEERS_PYTHON = BENCH / ".venv-peers" / "bin" / "python"
OURS = "sshjobs,sshjobs-cli,openssh-c25519"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists(),
    reason="the benchmark farm needs root and OpenSSH sshd",
)


def run_bench(tmp_path: Path, script: str, *args: str, timeout: float = 300) -> list[dict]:
    """Run one benchmark; return its raw samples (and fail with its stderr if it failed)."""
    env = dict(os.environ, SSHJOBS_BENCH_OUT=str(tmp_path / "out"))
    env.pop("SSH_AUTH_SOCK", None)
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"
    assert "###" in proc.stdout, f"{script} printed no report:\n{proc.stdout[-2000:]}"
    raws = sorted((tmp_path / "out").glob("*.json"))
    assert raws, f"{script} saved no raw results"
    return json.loads(raws[-1].read_text())["samples"]


def assert_all_reached(samples: list[dict], tools: str) -> None:
    seen = {s["tool"] for s in samples}
    assert seen == set(tools.split(",")), f"tools measured: {seen}"
    for sample in samples:
        assert sample["returncode"] == 0, sample
        assert sample["failed"] == 0 and sample["ok"] == sample["size"], sample
        assert sample["wall"] > 0 and sample["user"] + sample["sys"] > 0, sample


@pytest.fixture(scope="module")
def peers() -> str:
    """The peer tools, when their virtualenv exists or can be made (bench/setup-peers)."""
    if not PEERS_PYTHON.exists():
        try:
            subprocess.run(
                [str(BENCH / "setup-peers")], check=True, capture_output=True, timeout=600
            )
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"peers virtualenv unavailable (bench/setup-peers: {exc})")
    return "asyncssh,apssh,parallel-ssh,fabric,openssh"


def test_fanout_project_tools(tmp_path):
    samples = run_bench(
        tmp_path, "fanout.py", "--sizes", "2,3", "--runs", "1", "--tools", OURS, "--no-kex"
    )
    assert_all_reached(samples, OURS)
    assert {s["size"] for s in samples} == {2, 3}


# the suite's 120 s also counts the ``peers`` fixture: on a clean clone it builds the peers'
# virtualenv (bench/setup-peers, up to 600 s), then the benchmark itself may take up to 300 s
@pytest.mark.timeout(600 + 300 + 60)
def test_fanout_peers_and_key_exchange(tmp_path, peers):
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (bench/setup-peers installs it)")
    tools = f"sshjobs,{peers}"
    samples = run_bench(tmp_path, "fanout.py", "--sizes", "2", "--runs", "1", "--tools", tools)
    assert_all_reached(samples, tools)
    report = next((tmp_path / "out").glob("fanout-*.md")).read_text()
    assert "curve25519-sha256" in report, report  # negotiated algorithms were captured


def can_delay() -> bool:
    """Whether the farm can add latency here: the farm's relay, or tc netem in the kernel."""
    return (TOP / "tests" / "fixtures" / "delayrelay.py").exists() or netem_supported()


def test_roundtrips(tmp_path):
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (bench/setup-peers installs it)")
    if not can_delay():
        pytest.skip("no way to add latency: the kernel has no tc netem and the farm no relay")
    run_bench(
        tmp_path,
        "roundtrips.py",
        "--hosts",
        "2",
        "--runs",
        "1",
        "--tools",
        "sshjobs,openssh-c25519",
    )
    data = json.loads(sorted((tmp_path / "out").glob("roundtrips-*.json"))[-1].read_text())
    for tool in ("sshjobs", "openssh-c25519"):
        assert data["counts"][tool]["connections"] >= 1
        assert data["counts"][tool]["round_trips"] >= 3  # at least kex, auth, command


def test_scenario(tmp_path):
    tools = "sshjobs,openssh-c25519"
    samples = run_bench(
        tmp_path, "scenario.py", "--nodes", "2", "--commands", "2", "--runs", "1", "--tools", tools
    )
    assert_all_reached(samples, tools)


def test_scale_with_low_open_file_limit(tmp_path):
    samples = run_bench(
        tmp_path, "scale.py", "--hosts", "4", "--runs", "1", "--tools", "sshjobs", "--nofile", "64"
    )
    assert_all_reached(samples, "sshjobs")
