"""``sshjobs sandbox up / status / down`` as a user runs them (the real console script)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sshjobs.sandbox.daemon import MODULE

from .helpers import alive

SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))


def daemons_of(directory: Path) -> list[int]:
    """Pids of sandbox daemons serving ``directory`` (there must be none after a failure)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if MODULE.encode() in argv and str(directory).encode() in argv:
                found.append(int(proc.name))
    return found


@pytest.fixture
def sandbox_cli(tmp_path):
    """``sandbox_cli(*args)`` → (exit code, stdout, our stderr lines); always brought down."""
    directory = tmp_path / "state"
    env = {**os.environ, "SSHJOBS_SANDBOX_DIR": str(directory)}

    def run(*args: str) -> tuple[int, str, list[str]]:
        done = subprocess.run(
            [SSHJOBS, "sandbox", *args], env=env, capture_output=True, text=True, timeout=60
        )
        ours = [line for line in done.stderr.splitlines() if "sandbox" in line]
        return done.returncode, done.stdout, ours

    run.directory = directory  # type: ignore[attr-defined]
    yield run
    subprocess.run([SSHJOBS, "sandbox", "down"], env=env, capture_output=True, timeout=60)
    assert not daemons_of(directory)


def test_up_status_down(sandbox_cli):
    directory = sandbox_cli.directory
    code, out, err = sandbox_cli("up", "2")
    assert code == 0, err
    assert f"targets:     {directory}/targets" in out
    state = json.loads((directory / "state.json").read_text())
    pid = state["pid"]
    assert daemons_of(directory) == [pid]
    assert [node["name"] for node in state["nodes"]] == ["gateway", "node1", "node2"]

    targets = [
        line.split()[0]
        for line in (directory / "targets").read_text().splitlines()
        if not line.startswith("#")
    ]
    gateway = state["nodes"][0]
    assert targets == [
        f"127.0.0.1:{gateway['port']}->127.0.0.1:{node['port']}" for node in state["nodes"][1:]
    ]
    ssh = subprocess.run(
        ["ssh", "-F", str(directory / "ssh_config"), "node2", "pwd"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ssh.stdout.strip() == state["nodes"][2]["home"]

    code, out, _ = sandbox_cli("status")
    assert code == 0 and f"served by pid {pid}" in out

    code, _, err = sandbox_cli("up", "1")
    assert code == 1
    assert err == [
        f"sshjobs: sandbox up: a sandbox is already running in {directory} "
        f"(pid {pid}): stop it first with 'sshjobs sandbox down'"
    ]
    assert daemons_of(directory) == [pid]

    code, out, _ = sandbox_cli("down")
    assert (code, out.strip()) == (0, f"sandbox: stopped pid {pid} (3 nodes)")
    assert not alive(pid) and not daemons_of(directory)
    assert not (directory / "state.json").exists()

    code, _, err = sandbox_cli("status")
    assert code == 1 and len(err) == 1 and "no sandbox running" in err[0]
    code, out, _ = sandbox_cli("down")
    assert code == 0 and "nothing was running" in out


@pytest.mark.parametrize("count", ["0", "201", "-3"])
def test_node_count_out_of_range(sandbox_cli, count):
    code, _, err = sandbox_cli("up", "--", count)
    assert code == 1
    assert err == [
        f"sshjobs: sandbox up: number of sandbox nodes must be between 1 and 200, got {count}"
    ]
    assert not (sandbox_cli.directory / "state.json").exists()
    assert not daemons_of(sandbox_cli.directory)


def test_port_in_use(sandbox_cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = sandbox_cli("up", "1", "--port", str(port))
    assert code == 1
    assert len(err) == 1 and f"port 127.0.0.1:{port} is already in use" in err[0]
    assert not (sandbox_cli.directory / "state.json").exists()
    assert not daemons_of(sandbox_cli.directory)


def test_stale_state_is_reported_then_cleared_by_down(sandbox_cli):
    dead = subprocess.Popen(["true"])
    dead.wait()
    directory = sandbox_cli.directory
    directory.mkdir(parents=True)
    (directory / "state.json").write_text(json.dumps({"pid": dead.pid, "nodes": []}))
    for command in ("status", "up"):
        args = (command, "1") if command == "up" else (command,)
        code, _, err = sandbox_cli(*args)
        assert code == 1
        assert err == [
            f"sshjobs: sandbox {command}: stale sandbox state in {directory} "
            f"(pid {dead.pid} is not running): clear it with 'sshjobs sandbox down'"
        ]
    assert not daemons_of(directory)
    code, out, _ = sandbox_cli("down")
    assert code == 0 and "nothing was running" in out
    assert not (directory / "state.json").exists()
    code, _, err = sandbox_cli("up", "1")
    assert code == 0, err


def test_a_pid_that_is_not_our_daemon_is_never_signalled(sandbox_cli):
    async def main():
        stranger = await asyncio.create_subprocess_exec("sleep", "30")
        directory = sandbox_cli.directory
        directory.mkdir(parents=True)
        (directory / "state.json").write_text(json.dumps({"pid": stranger.pid, "nodes": []}))
        try:
            code, out, _ = sandbox_cli("down")
            assert code == 0 and "nothing was running" in out
            assert stranger.returncode is None and alive(stranger.pid)
        finally:
            stranger.kill()
            await stranger.wait()

    asyncio.run(main())


def test_port_out_of_range(sandbox_cli):
    code, _, err = sandbox_cli("up", "2", "--port", "70000")
    assert code == 1
    assert err == [
        "sshjobs: sandbox up: base port 70000 out of range 1..65533 for 2 node(s) and a gateway"
    ]
    assert not daemons_of(sandbox_cli.directory)


def test_concurrent_ups_start_one_sandbox(sandbox_cli, tmp_path):
    env = {**os.environ, "SSHJOBS_SANDBOX_DIR": str(sandbox_cli.directory)}
    ups = [
        subprocess.Popen(
            [SSHJOBS, "sandbox", "up", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(up.wait(60), up.communicate()) for up in ups]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1, 1], results
    for code, (_, err) in results:
        if code:
            ours = [line for line in err.splitlines() if "sandbox" in line]
            assert len(ours) == 1 and "already running" in ours[0]
    assert len(daemons_of(sandbox_cli.directory)) == 1


def test_refusals_name_the_dir_and_a_failed_start_leaves_nothing(sandbox_cli, tmp_path):
    other = tmp_path / "other"
    try:
        code, _, err = sandbox_cli("up", "1", "--dir", str(other))
        assert code == 0, err
        code, _, err = sandbox_cli("up", "1", "--dir", str(other))
        assert code == 1 and len(err) == 1
        assert f"stop it first with 'sshjobs sandbox down --dir {other}'" in err[0]
    finally:
        sandbox_cli("down", "--dir", str(other))
    fresh = tmp_path / "fresh"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = sandbox_cli("up", "1", "--port", str(port), "--dir", str(fresh))
    assert code == 1 and len(err) == 1 and "already in use" in err[0]
    assert not fresh.exists()  # no key, lock, nodes/ or log left behind
    assert not daemons_of(fresh)
