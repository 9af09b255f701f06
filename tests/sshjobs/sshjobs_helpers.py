"""Helpers for the sshjobs library tests: nodes on the farm, a collecting formatter, and a view
of the SSH connections this machine has open to the farm.

Not a conftest.py on purpose: other test directories do ``from conftest import ...``, which
resolves to whichever conftest module was imported last; test modules here import their
fixtures from this uniquely named module instead."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest
from fixtures.leftovers import pids_matching  # noqa: F401 (used by the tests)

from sshjobs import Formatter, SshNode


class Collect(Formatter):
    """Keeps every line it receives, per host and stream, as bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, int | None, bytes]] = []
        self.events: list[tuple[str, str]] = []

    def line(self, line, datatype, hostname):
        self.lines.append((hostname, datatype, line))

    def connection_lost(self, hostname, exc, username=None):
        self.events.append(("closed", hostname))

    def session_start(self, hostname, command):
        self.events.append(("start", hostname))

    def session_stop(self, hostname, command):
        self.events.append(("stop", hostname))

    def stdout(self, hostname: str | None = None) -> bytes:
        return b"".join(
            line
            for host, kind, line in self.lines
            if kind is None and (hostname is None or host == hostname)
        )

    def stderr(self, hostname: str | None = None) -> bytes:
        return b"".join(
            line
            for host, kind, line in self.lines
            if kind == 1 and (hostname is None or host == hostname)
        )


def _hex_endpoint(address: str, port: int) -> str:
    packed = socket.inet_aton(address)
    return f"{struct.unpack('<I', packed)[0]:08X}:{port:04X}"


def established_to(farm) -> int:
    """TCP connections in ESTABLISHED state from this network namespace to the farm's sshds."""
    targets = {_hex_endpoint(h.address, h.port) for h in farm.hosts if h.network == "A"}
    count = 0
    for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and fields[2] in targets:
            count += 1
    return count


class Nodes:
    """Builds SshNodes for farm hosts, all with the farm's formatter-collecting defaults."""

    def __init__(self, farm, formatter: Collect) -> None:
        self.farm = farm
        self.formatter = formatter

    def node(self, host, *, gateway: SshNode | None = None, **kwds) -> SshNode:
        host = self.farm.host(host) if isinstance(host, str) else host
        kwds.setdefault("formatter", self.formatter)
        kwds.setdefault("username", "root")
        return SshNode(host.address, port=host.port, gateway=gateway, **kwds)

    def gateway(self, **kwds) -> SshNode:
        return self.node(self.farm.gateway, **kwds)

    def counts(self) -> dict[str, int]:
        return {h.name: self.farm.accepted_connections(h) for h in self.farm.hosts}


@pytest.fixture
def collect() -> Collect:
    return Collect()


@pytest.fixture
def nodes(farm, collect) -> Nodes:
    return Nodes(farm, collect)
