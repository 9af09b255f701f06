"""At most SSHJOBS_MAX_HANDSHAKES handshakes at once, and a connect timeout that counts from the
start of a node's own handshake, not from the time it waited for a turn."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio

from sshjobs_helpers import Nodes, collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import Run, SshJob
from sshjobs.transport import handshakes


def _run_and_get_slots(jobs) -> handshakes.HandshakeSlots:
    async def scenario():
        ok = await Scheduler(*jobs).co_run()
        return ok, handshakes.slots()

    ok, slots = asyncio.run(scenario())
    assert ok, [job.raised_exception() for job in jobs]
    return slots


def test_handshakes_beyond_the_limit_wait_for_a_turn(nodes, collect, monkeypatch):
    monkeypatch.setenv("SSHJOBS_MAX_HANDSHAKES", "2")
    hosts = nodes.farm.direct[:6]
    jobs = [SshJob(nodes.node(host), command=Run("echo", "turn")) for host in hosts]
    slots = _run_and_get_slots(jobs)
    assert (slots.limit, slots.peak) == (2, 2)
    assert slots.waited >= len(hosts) - 2
    assert collect.stdout().count(b"turn\n") == len(hosts)


def test_connect_timeout_counts_from_the_start_of_the_handshake(faulty_farm, collect, monkeypatch):
    # three hosts whose connection takes about 0.75 s (3 round trips of 0.25 s up to the
    # login), one at a time: the last one is logged in ~2.25 s after it asked, beyond its
    # 1.8 s connect timeout, but its own handshake takes well under it
    monkeypatch.setenv("SSHJOBS_MAX_HANDSHAKES", "1")
    nodes = Nodes(faulty_farm, collect)
    hosts = [faulty_farm.gateway, *faulty_farm.direct[:2]]
    for host in hosts:
        faulty_farm.delay(host, 250)
    jobs = [
        SshJob(nodes.node(host, timeout=1.8), command=Run("echo", "slow"), critical=False)
        for host in hosts
    ]
    slots = _run_and_get_slots(jobs)
    assert slots.peak == 1 and slots.waited == 2
    assert collect.stdout().count(b"slow\n") == 3


def test_default_and_bad_settings(monkeypatch):
    monkeypatch.delenv("SSHJOBS_MAX_HANDSHAKES", raising=False)
    assert handshakes._configured_limit() == handshakes.DEFAULT_LIMIT
    for bad in ("0", "-3", "many"):
        monkeypatch.setenv("SSHJOBS_MAX_HANDSHAKES", bad)
        assert handshakes._configured_limit() == handshakes.DEFAULT_LIMIT
    monkeypatch.setenv("SSHJOBS_MAX_HANDSHAKES", "17")
    assert handshakes._configured_limit() == 17
