"""SshNode + SshJob + Run on the farm: direct nodes, gateways, hops, shared connections,
failures, and nothing left open after a run."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import uuid

import pytest
from fixtures.waiting import empty, wait_until, wait_until_async
from sshjobs_helpers import collect, established_to, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler, Sequence
from sshjobs import CommandFailedError, Run, SshJob


def test_direct_node_output_and_results(nodes, collect):
    node = nodes.node(nodes.farm.direct[0])
    job = SshJob(
        node, commands=[Run("echo hello; echo oops >&2"), Run("exit 3", allowed_exits=[3])]
    )
    assert Scheduler(job).run()
    host = node.hostname
    assert collect.stdout(host) == b"hello\n"
    assert collect.stderr(host) == b"oops\n"
    first, second = job.results
    assert (first.host, first.command, first.exit_status, first.ok) == (
        host,
        "echo hello; echo oops >&2",
        0,
        True,
    )
    assert first.end >= first.start and first.stderr_tail == b"oops\n"
    assert second.exit_status == 3 and second.ok
    assert job.result() == 0


def test_list_of_strings_is_one_command(nodes, collect):
    node = nodes.node(nodes.farm.direct[1])
    job = SshJob(node, command=["echo", "a", "b"])
    assert Scheduler(job).run()
    assert len(job.results) == 1 and collect.stdout() == b"a b\n"


def test_quote_keeps_arguments_literal(nodes, collect):
    node = nodes.node(nodes.farm.direct[0])
    joined = SshJob(node, command=Run("printf", "'%s|'", "a;echo", "b"))
    quoted = SshJob(
        node, command=Run("printf", "%s|", "a;echo", "b c", quote=True), required=joined
    )
    assert Scheduler(joined, quoted).run()
    # apssh joining: the remote shell sees 'printf %s| a;echo b' -> two commands
    assert collect.stdout().startswith(b"a|b\n")
    assert collect.stdout().endswith(b"a;echo|b c|")


def test_gateway_and_private_nodes_share_one_connection_each(nodes, collect):
    farm = nodes.farm
    before = nodes.counts()
    gateway = nodes.gateway()
    privates = [nodes.node(host, gateway=gateway) for host in farm.private]
    jobs = [SshJob(gateway, command="hostname")]
    for node in privates:
        jobs += [
            SshJob(node, command=Run("echo", index, "from", node.hostname)) for index in range(4)
        ]
    assert Scheduler(*jobs).run()
    after = nodes.counts()
    assert after["gateway"] - before["gateway"] == 1
    for host in farm.private:
        assert after[host.name] - before[host.name] == 1, host.name
    for node in privates:
        for index in range(4):
            assert f"{index} from {node.hostname}\n".encode() in collect.stdout(node.hostname)
    assert not gateway.is_connected() and not any(n.is_connected() for n in privates)


def test_two_hops(nodes, collect):
    farm = nodes.farm
    before = nodes.counts()
    gateway = nodes.gateway()
    hop1 = nodes.node(farm.private[0], gateway=gateway)
    hop2 = nodes.node(farm.private[1], gateway=hop1)
    assert hop2.distance() == 3
    jobs = [SshJob(hop2, command=Run("echo", "deep", i)) for i in range(3)]
    jobs.append(SshJob(hop1, command="echo middle"))
    assert Scheduler(*jobs).run()
    after = nodes.counts()
    assert [after[h.name] - before[h.name] for h in (farm.gateway, *farm.private[:2])] == [1, 1, 1]
    assert b"deep 2\n" in collect.stdout(hop2.hostname)
    assert collect.stdout(hop1.hostname) == b"middle\n"


def test_connections_close_remotest_first(nodes, collect):
    farm = nodes.farm
    gateway = nodes.gateway()
    hop1 = nodes.node(farm.private[0], gateway=gateway)
    hop2 = nodes.node(farm.private[1], gateway=hop1)
    other = nodes.node(farm.private[2], gateway=gateway)
    jobs = [SshJob(node, command="true") for node in (gateway, hop1, hop2, other)]
    assert Scheduler(*jobs).run()
    closed = [host for event, host in collect.events if event == "closed"]
    assert sorted(closed) == sorted(n.hostname for n in (gateway, hop1, hop2, other))
    assert closed.index(hop2.hostname) < closed.index(hop1.hostname)
    assert closed[-1] == gateway.hostname


def test_one_connection_across_sequences_and_nested_schedulers(nodes):
    """A nested scheduler finishing first shuts its jobs down while outer jobs on the same
    node (or behind it) are still to run: the connection must stay open for them."""
    farm = nodes.farm
    before = nodes.counts()
    gateway = nodes.gateway()
    node = nodes.node(farm.private[0], gateway=gateway)
    inner = Scheduler(Sequence(SshJob(node, command="true"), SshJob(node, command="true")))
    other = nodes.node(farm.private[1], gateway=gateway)
    middle = SshJob(other, command="true", required=inner)
    last = SshJob(node, command="true", required=middle)
    assert Scheduler(inner, middle, last).run()
    after = nodes.counts()
    assert [after[h] - before[h] for h in ("gateway", "private1", "private2")] == [1, 1, 1]


def test_nothing_left_open_after_run(nodes):
    farm = nodes.farm
    gateway = nodes.gateway()
    direct = [nodes.node(h) for h in farm.direct]
    private = nodes.node(farm.private[2], gateway=gateway)
    jobs = [SshJob(n, command="true") for n in (*direct, private)]
    assert Scheduler(*jobs).run()
    assert established_to(farm) == 0
    # the same nodes run again in a new run() (a new event loop): they reconnect
    before = nodes.counts()
    assert Scheduler(*[SshJob(n, command="true") for n in (*direct, private)]).run()
    assert nodes.counts()["gateway"] - before["gateway"] == 1
    assert established_to(farm) == 0


def test_critical_failure_stops_the_job_and_the_scheduler(nodes, collect):
    node = nodes.node(nodes.farm.direct[1])
    failing = SshJob(
        node, critical=True, commands=[Run("echo some error >&2; exit 5"), Run("echo never")]
    )
    after = SshJob(node, command="echo after", required=failing)
    assert Scheduler(failing, after).run() is False
    exc = failing.raised_exception()
    assert isinstance(exc, CommandFailedError)
    assert (exc.host, exc.exit_status, exc.signal) == (node.hostname, 5, None)
    assert "some error" in exc.stderr_tail and "some error" in str(exc)
    assert len(failing.results) == 1 and not failing.results[0].ok
    assert b"never" not in collect.stdout() and b"after" not in collect.stdout()


def test_non_critical_failure_goes_on(nodes, collect):
    node = nodes.node(nodes.farm.direct[1])
    job = SshJob(
        node, critical=False, commands=[Run("exit 7"), Run("echo next"), Run("kill -TERM $$")]
    )
    assert Scheduler(job).run()
    assert job.result() == "TERM"
    assert [r.returned for r in job.results] == [7, 0, "TERM"]
    assert collect.stdout() == b"next\n"
    assert [r.ok for r in job.failed_results()] == [False, False]


def test_sshnode_in_async_with_and_built_inside_a_loop(nodes, collect):
    farm = nodes.farm
    before = nodes.counts()

    async def main():
        async with nodes.node(farm.direct[0]) as node:
            jobs = [SshJob(node, command=Run("echo", i)) for i in range(3)]
            assert await Scheduler(*jobs).co_run()
            # the scheduler is done, but the async-with block still holds the connection
            assert node.is_connected()
            assert await node.run("exit 4") == 4
        assert not node.is_connected()

    asyncio.run(main())
    assert nodes.counts()["direct1"] - before["direct1"] == 1
    assert sorted(collect.stdout().split()) == [b"0", b"1", b"2"]


@pytest.mark.parametrize("count", [25])
def test_more_sessions_than_maxsessions_wait(nodes, collect, count):
    """The farm's sshd keeps MaxSessions 10; 25 concurrent commands on one node all succeed,
    over one connection, whether we know the limit or discover it (server refusals)."""
    farm = nodes.farm
    for max_sessions in (10, 40):
        collect.lines.clear()
        before = nodes.counts()
        node = nodes.node(farm.direct[1], max_sessions=max_sessions)
        jobs = [SshJob(node, command=f"sleep 0.2; echo {i}") for i in range(count)]
        assert Scheduler(*jobs).run(), [j.raised_exception() for j in jobs]
        assert sorted(int(x) for x in collect.stdout().split()) == list(range(count))
        assert nodes.counts()["direct2"] - before["direct2"] == 1


def test_stdin_is_empty_and_pid_line_never_shows(nodes, collect):
    """Commands read an empty stdin (like ssh -n); the pid report used for killing is stripped
    from stderr, which stays exact - with or without it (kill_on_cancel=False)."""
    farm = nodes.farm
    for kill_on_cancel in (True, False):
        collect.lines.clear()
        node = nodes.node(farm.direct[0], kill_on_cancel=kill_on_cancel)
        job = SshJob(node, command="cat; echo done; printf 'e1\\ne2' >&2")
        assert Scheduler(job).run()
        assert collect.stdout() == b"done\n"
        assert collect.stderr() == b"e1\ne2"
        assert job.results[0].stderr_tail == b"e1\ne2"


def test_negotiated_algorithms(nodes):
    """What we ask asyncssh for: an AEAD cipher first, no compression (curve25519 kex is first
    in our list: see sshjobs.transport.connect.KEX_ALGS)."""
    from sshjobs.transport.connect import KEX_ALGS

    async def main():
        async with nodes.node(nodes.farm.direct[0]) as node:
            conn = await node.connect_lazy()
            return {
                key: conn.get_extra_info(key)
                for key in ("send_cipher", "recv_cipher", "send_compression")
            }

    info = asyncio.run(main())
    assert info["send_cipher"] == info["recv_cipher"] == "aes128-gcm@openssh.com"
    assert info["send_compression"] == "none"
    assert KEX_ALGS[0] == "curve25519-sha256"


def test_close_cancelled_while_a_kill_is_pending_still_releases_the_gateway(nodes):
    """A scheduler's shutdown timeout may cancel a node's close() while it waits for the kill
    of a cancelled command: the node's connection and its gateway's must close all the same."""
    farm = nodes.farm
    marker = f"6{uuid.uuid4().int % 10**6:06d}"

    async def scenario():
        gateway = nodes.gateway()
        node = nodes.node(farm.private[0], gateway=gateway)
        node.add_user("test")
        await node.execute("true")
        command = asyncio.create_task(node.execute(f"sleep {marker}"))
        await wait_until_async(
            lambda: [c for c in farm.processes(farm.private[0]).values() if marker in c],
            message=f"'sleep {marker}' runs on the host",
        )
        command.cancel()
        await asyncio.gather(command, return_exceptions=True)
        closing = asyncio.create_task(node.close())
        await asyncio.sleep(0)
        closing.cancel()
        await asyncio.gather(closing, return_exceptions=True)
        await wait_until_async(
            gateway.is_connected,
            until=lambda connected: not connected,
            timeout=2,
            interval=0.02,
            message="the gateway's connection closed",
        )
        return node.is_connected(), gateway.is_connected()

    assert asyncio.run(scenario()) == (False, False)
    assert established_to(farm) == 0
    # and the kill that was pending when the close was cancelled still landed
    wait_until(
        lambda: [c for c in farm.processes(farm.private[0]).values() if marker in c],
        until=empty,
        message=f"no 'sleep {marker}' left on the host",
    )
