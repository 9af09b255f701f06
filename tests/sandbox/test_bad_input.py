"""A sandbox refuses bad settings with one clear line, and leaves nothing bound."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sshjobs.sandbox import MAX_NODES, Sandbox, SandboxError


@pytest.mark.parametrize("count", [0, -1, MAX_NODES + 1])
def test_node_count_out_of_range(tmp_path, count):
    with pytest.raises(SandboxError, match=f"between 1 and {MAX_NODES}, got {count}"):
        Sandbox(tmp_path, count)


def test_listens_on_loopback_only(tmp_path):
    with pytest.raises(SandboxError, match="loopback only"):
        Sandbox(tmp_path, 1, host="0.0.0.0")


def _free_port_pair() -> tuple[socket.socket, int]:
    """A listening socket on port P where P-1 was free a moment ago; returns (socket, P-1)."""
    for _ in range(20):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port - 1))
            return busy, port - 1
        except OSError:
            busy.close()
        finally:
            probe.close()
    pytest.skip("could not find two consecutive ports")


def test_port_in_use_is_reported_and_nothing_stays_bound(tmp_path):
    busy, base = _free_port_pair()
    with busy:
        with pytest.raises(SandboxError, match=f"port 127.0.0.1:{base + 1} is already in use"):
            asyncio.run(Sandbox(tmp_path, 1, base_port=base).start())
        # the gateway, bound on `base` before node1 failed, was released
        probe = socket.socket()
        with probe:
            probe.bind(("127.0.0.1", base))


def test_pinned_ports_are_used(tmp_path):
    busy, base = _free_port_pair()
    busy.close()

    async def main():
        async with Sandbox(tmp_path, 1, base_port=base) as sandbox:
            return [node.port for node in sandbox.all_nodes]

    assert asyncio.run(main()) == [base, base + 1]
