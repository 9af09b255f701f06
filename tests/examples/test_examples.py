"""Smoke tests of examples/: each script runs on sandbox nodes, and on the sshd farm where a
real gateway or real hosts matter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
EXAMPLES = TOP / "examples"
SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))


def run_example(
    name: str,
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = ["sh" if name.endswith(".sh") else sys.executable, str(EXAMPLES / name), *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def check_experiment_results(results: Path, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    session = re.search(r"session announced by node 1: (session-\d+)", done.stdout).group(1)
    for rank in (1, 2, 3):
        samples = (results / f"node{rank}/results/samples.txt").read_text().splitlines()
        assert samples == [f"rank {rank} sample {i}" for i in (1, 2, 3)]
    for rank in (2, 3):
        assert (results / f"node{rank}/results/joined.txt").read_text() == f"joined {session}\n"
    assert "<SshJob `pull 3`>[[ -> 0]]" in done.stdout


def test_testbed_experiment_on_sandbox(tmp_path):
    done = run_example("testbed_experiment.py", "-o", str(tmp_path / "out"), cwd=tmp_path)
    check_experiment_results(tmp_path / "out", done)


def test_testbed_experiment_on_the_farm_behind_its_gateway(farm, tmp_path):
    def spec(host):
        return f"root@{host.address}:{host.port}"

    done = run_example(
        "testbed_experiment.py",
        "-g",
        spec(farm.gateway),
        *(spec(host) for host in farm.private[:3]),
        "-k",
        str(farm.client_key),
        "--known-hosts",
        str(farm.known_hosts),
        "-o",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    check_experiment_results(tmp_path / "out", done)
    assert (farm.home_of(farm.private[0]) / "results/samples.txt").exists()


def test_fanout_with_failures_on_sandbox(tmp_path):
    done = run_example("fanout_with_failures.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    outcomes = [line.rsplit(": ", 1)[1] for line in done.stdout.splitlines() if "@" in line]
    assert outcomes == ["ok", "FAILED (exit 2)", "ok", "ok", "FAILED (exit 2)", "ok"]
    assert done.stderr.count("under maintenance: disk replacement") == 2
    assert "4/6 hosts healthy" in done.stdout
    assert list(tmp_path.iterdir()) == []  # its sandbox lived in a temporary directory


def test_fanout_with_failures_on_the_farm(farm, tmp_path):
    flagged = farm.direct[1]
    flag = farm.home_of(flagged) / "maintenance"
    flag.write_text("fan repair\n")
    try:
        hosts = [f"root@{host.address}:{host.port}" for host in farm.direct[:2]]
        done = run_example(
            "fanout_with_failures.py",
            *hosts,
            "root@127.0.0.1:1",
            "-k",
            str(farm.client_key),
            "--known-hosts",
            str(farm.known_hosts),
            cwd=tmp_path,
        )
    finally:
        flag.unlink()
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stdout.splitlines() if "@" in line]
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ok",
        "FAILED (exit 2)",
        "UNREACHABLE (SshConnectionError)",
    ]
    assert "under maintenance: fan repair" in done.stderr
    assert "1/3 hosts healthy" in done.stdout


def test_cli_session(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SSHJOBS": SSHJOBS, "HOME": str(tmp_path)}
    try:
        done = run_example("cli_session.sh", str(tmp_path / "out"), cwd=tmp_path, env=env)
    finally:  # the script's own trap stops the sandbox; this is for a script killed midway
        subprocess.run(
            [SSHJOBS, "sandbox", "down", "--dir", str(tmp_path / "out/sandbox")],
            capture_output=True,
            timeout=60,
            env=env,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count(" in ") >= 3 and "node2 in " in out
    reports = sorted(p.read_text() for p in (tmp_path / "out/reports").iterdir())
    assert reports == ["node1 42\n", "node2 42\n", "node3 42\n"]
    failed = (tmp_path / "out/failed.txt").read_text().split()
    assert len(failed) == 1 and "exit status: 1; failed hosts: " in out
    assert re.search(r"sandbox: stopped pid \d+ \(4 nodes\)", out)
    assert not (tmp_path / "out/sandbox/state.json").exists()


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_explain_themselves(script):
    """Each example starts with a docstring saying what it shows and how to run it."""
    text = (EXAMPLES / script).read_text()
    assert text.startswith('#!/usr/bin/env python3\n"""')
    assert f"python examples/{script}" in text


def test_build_and_deploy_on_sandbox(tmp_path):
    done = run_example("build_and_deploy.py", "-w", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("app v1 running on Linux in ") == 3
    assert "LOCALNODE:built " in done.stdout and "<SshJob `run on " in done.stdout


def test_build_and_deploy_on_the_farm(farm, tmp_path):
    hosts = [f"root@{host.address}:{host.port}" for host in farm.direct[:2]]
    done = run_example(
        "build_and_deploy.py",
        *hosts,
        "-k",
        str(farm.client_key),
        "--known-hosts",
        str(farm.known_hosts),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("app v1 running on Linux in /root") == 2
    assert (farm.home_of(farm.direct[0]) / "app/run.sh").exists()
