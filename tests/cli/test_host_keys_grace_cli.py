"""``sshjobs run`` and issue 14: host-key settings on the command line (bad values refused
before any connection, in one line) and ``--output-grace`` for commands leaving a process in
the background."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fixtures.cli import sshjobs


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (("--host-keys", "maybe"), {}, "--host-keys"),
        ((), {"SSHJOBS_HOST_KEYS": "maybe"}, "SSHJOBS_HOST_KEYS"),
    ],
)
def test_unknown_host_key_mode_is_one_line_and_exit_2(farm, args, env, where):
    host = farm.direct[0]
    before = farm.accepted_connections(host)
    result = sshjobs("run", *args, "-t", host.name, "--", "true", env=env)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert f"{where}: unknown host-key mode 'maybe'; use one of strict, accept-new, ignore" in line
    assert farm.accepted_connections(host) == before


def test_unknown_strict_host_key_checking_in_ssh_config(farm, tmp_path, monkeypatch):
    host = farm.direct[0]
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(
        f"Host {host.name}\n  HostName {host.address}\n  Port {host.port}\n"
        "  StrictHostKeyChecking sometimes\n"
    )
    before = farm.accepted_connections(host)
    result = sshjobs("run", "-i", farm.client_key, "-t", host.name, "--", "true")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"sshjobs run: {host.name}: ")
    assert "StrictHostKeyChecking sometimes" in line and "accept-new" in line
    assert farm.accepted_connections(host) == before


def test_output_grace_option_and_verbose_notice(farm):
    host = farm.direct[1]
    pidfile = farm.home_of(host) / "cli-held.pid"
    result = sshjobs(
        "run",
        "-v",
        "--output-grace",
        "0.5",
        "-t",
        host.name,
        "--",
        f"sleep 300 > /dev/null & echo $! > {pidfile.name}; echo hi",
    )
    pid = int(pidfile.read_text())
    try:
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"{host.name}: hi\n"
        told = [
            line
            for line in result.stderr.splitlines()
            if "a background process kept its output open" in line
        ]
        assert len(told) == 1 and "0.5s" in told[0]
        assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep")  # still runs
    finally:
        os.kill(pid, signal.SIGKILL)
