"""Helpers of the fault suite (issue 8): the CLI as a real process with no terminal and stdin
closed, unique markers for remote commands, and checks made on the farm's hosts themselves
(their processes, their sshd sessions) rather than through SSH.

Every helper waits on a condition with a bounded deadline (``fixtures.waiting.wait_until``),
never on a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from fixtures.waiting import empty, wait_until

from sshjobs import Formatter, SshNode

SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))


def marker() -> str:
    """A number unique to one test, used as ``sleep <marker>`` to find remote commands."""
    return f"7{uuid.uuid4().int % 10**8:08d}"


def cli(
    *args: object, timeout: float = 60, input: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``sshjobs ARGS`` to completion: stdin closed (or fed ``input``), no controlling
    terminal (new session), so that any prompt would fail or hang instead of being answered."""
    return subprocess.run(
        [SSHJOBS, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        start_new_session=True,
        env=env,
        **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
    )


class Spawned:
    """``sshjobs ARGS`` running in the background (no terminal, stdin closed); killed and
    reaped on exit of the ``with`` block whatever happened."""

    def __init__(self, *args: object, text: bool = True, stdout=subprocess.PIPE) -> None:
        self.process = subprocess.Popen(
            [SSHJOBS, *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=text,
            start_new_session=True,
        )

    def __enter__(self) -> subprocess.Popen:
        return self.process

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)


def remote_matching(farm, hosts, text: str) -> dict[str, list[str]]:
    """Command lines containing ``text`` of processes running on each host (read on the host
    itself: its namespaces' processes), only hosts that have some."""
    found = {}
    for host in hosts:
        lines = [cmd for cmd in farm.processes(host).values() if text in cmd]
        if lines:
            found[host.name] = lines
    return found


def wait_remote_gone(farm, hosts, text: str, seconds: float = 8.0, when: str = "") -> None:
    """Wait (bounded) until no process on ``hosts`` mentions ``text``; fails naming what is
    left (``when`` says at which step of the test)."""
    wait_until(
        lambda: remote_matching(farm, hosts, text),
        until=empty,
        timeout=seconds,
        message=f"no process mentioning {text!r} left on the hosts{when and f' ({when})'}",
    )


def sessions(farm, hosts) -> set[tuple[str, int]]:
    """(host, pid) of every sshd serving a connection on the hosts (not the listeners)."""
    return {
        (host.name, pid)
        for host in hosts
        for pid, cmd in farm.processes(host).items()
        if cmd.startswith("sshd: ") and "[listener]" not in cmd
    }


def wait_sessions_closed(farm, hosts, before: set) -> None:
    """Wait (bounded) until every sshd session opened since ``before`` is gone; fails naming
    the ones still there."""
    wait_until(
        lambda: sessions(farm, hosts) - before,
        until=empty,
        timeout=8.0,
        message="every sshd session opened by the test closed",
    )


def accepted(farm) -> dict[str, int]:
    """Connections each host's sshd has accepted so far (from its own log)."""
    return {h.name: farm.accepted_connections(h) for h in farm.hosts}


def kill_remote(farm, hosts, text: str) -> None:
    """Kill what a test left on hosts it cut off (their sshd could not be told): processes
    whose command line mentions ``text``."""
    for host in hosts:
        for pid, cmd in farm.processes(host).items():
            if text in cmd:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class Lines(Formatter):
    """A formatter keeping every output line it gets, per host and stream (bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, object, bytes]] = []

    def line(self, line, datatype, hostname):
        self.lines.append((hostname, datatype, bytes(line)))

    def stdout(self, hostname: str) -> bytes:
        return b"".join(
            data for host, kind, data in self.lines if host == hostname and kind is None
        )


def node(farm, host, *, via=None, **kwds) -> SshNode:
    """An SshNode for a farm host as root (the farm's HOME gives key and known_hosts);
    ``via``: the gateway SshNode for private hosts."""
    host = farm.host(host) if isinstance(host, str) else host
    if host in farm.private and via is None:
        raise ValueError(f"{host.name} is private: pass via=<gateway node>")
    kwds.setdefault("username", "root")
    return SshNode(host.address, port=host.port, gateway=via, **kwds)


def workers(farm) -> list:
    """Every host but the gateway (private ones are reached through it)."""
    return [h for h in farm.hosts if h is not farm.gateway]


def target_of(farm, host) -> str:
    """The CLI target of a host: private ones go through the gateway."""
    return f"gateway->{host.name}" if host in farm.private else host.name
