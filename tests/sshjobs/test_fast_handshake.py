"""The short handshake (sshjobs.transport.fastpath) against a real sshd: three round trips fewer
than asyncssh's own, the same login, and a clean fall-back to the cautious path when a key is
refused.

Round trips are counted by a relay put between the client and a farm host's sshd: it holds what
the server sends for a while, so that each time the client has to wait for the server shows as a
separate burst of server data (as in bench/sshwire.py), up to the command's output."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import re
import time

import asyncssh
import pytest
from fixtures.waiting import wait_until
from sshjobs_helpers import collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import Formatter, Run, SshConnectionError, SshJob, SshNode
from sshjobs.transport import fastpath

HOLD = 0.5  # seconds the relay holds server data (a round trip; bursts: gaps > HOLD/2)


class TurnCountingRelay:
    """TCP relay to one sshd; records the order of client and (held) server data."""

    def __init__(self, address: str, port: int, cut_at_client_burst: int | None = None) -> None:
        self.target = (address, port)
        self.cut_at = cut_at_client_burst  # drop the connection when the client sends that
        self.client_bursts = 0
        #: (side, when relayed, when read): server data is relayed HOLD after it was read
        self.events: list[tuple[str, float, float]] = []
        self.trace: list[str] = []  # the same, with sizes and times, for failure messages
        self.t0 = time.monotonic()
        self.server: asyncio.base_events.Server | None = None
        self.serving: list[asyncio.Task] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Once the client has gone: its relay ends when sshd closes its side."""
        self.server.close()
        await self.server.wait_closed()
        await asyncio.wait_for(asyncio.gather(*self.serving), 10)

    async def _serve(self, client_reader, client_writer) -> None:
        self.serving.append(asyncio.current_task())
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        held: asyncio.Queue = asyncio.Queue()

        async def upstream():
            last = None
            while data := await client_reader.read(65536):
                now = time.monotonic()
                if last is None or now - last > HOLD / 2:
                    self.client_bursts += 1
                last = now
                if self.client_bursts == self.cut_at:  # the connection drops there
                    client_writer.transport.abort()
                    server_writer.transport.abort()
                    return
                self._note("C", data)
                server_writer.write(data)
            server_writer.close()

        async def downstream_read():
            while data := await server_reader.read(65536):
                await held.put((time.monotonic() + HOLD, data))
            await held.put((0, b""))

        async def downstream_write():
            while True:
                due, data = await held.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                self._note("S", data, read=due - HOLD)
                client_writer.write(data)
            client_writer.close()

        await asyncio.gather(
            upstream(), downstream_read(), downstream_write(), return_exceptions=True
        )

    def _note(self, side: str, data: bytes, read: float | None = None) -> None:
        now = time.monotonic()
        self.events.append((side, now, now if read is None else read))
        self.trace.append(f"{side}{len(data)}@{time.monotonic() - self.t0:.3f}")

    def round_trips(self, until: int) -> int:
        """Bursts of server data among the first ``until`` events: each is one wait of the
        client's. A burst starts when the server was silent for half the hold time AND its data
        answers the client: the relay read it after client data forwarded since the previous
        burst began. A server slowed by a loaded machine may send one reply in pieces far apart,
        with nothing from the client in between: that is not another round trip."""
        bursts, last, began = 0, None, 0.0
        client = [when for side, when, _ in self.events[:until] if side == "C"]
        for side, when, read in self.events[:until]:
            if side != "S":
                continue
            if last is None or (
                when - last > HOLD / 2 and any(began <= sent <= read for sent in client)
            ):
                bursts, began = bursts + 1, when
            last = when
        return bursts


class FirstOutput(Formatter):
    """Notes how many relay events had happened when the command's output reached the client:
    the round trips before it are the handshake's and the command's, not the teardown's."""

    def __init__(self, relay: TurnCountingRelay) -> None:
        super().__init__()
        self.relay = relay
        self.mark: int | None = None

    def line(self, line, datatype, hostname):
        if self.mark is None:
            self.mark = len(self.relay.events)


def _round_trips(nodes, fast: bool) -> int:
    host = nodes.farm.direct[0]

    async def scenario():
        relay = TurnCountingRelay(host.address, host.port)
        port = await relay.start()
        formatter = FirstOutput(relay)
        node = SshNode(
            "127.0.0.1",
            port=port,
            username="root",
            host_keys="ignore",
            formatter=formatter,
            fast_handshake=fast,
        )
        job = SshJob(node, command=Run("echo", "output"))
        assert await Scheduler(job).co_run(), job.raised_exception()
        await relay.stop()
        assert formatter.mark is not None
        return relay.round_trips(formatter.mark), " ".join(relay.trace[: formatter.mark])

    return asyncio.run(scenario())


def test_installed_asyncssh_has_what_the_short_handshake_needs():
    # fails on an asyncssh whose internals moved: the short handshake would silently be off
    assert fastpath.AVAILABLE, (
        f"asyncssh {asyncssh.__version__}: sshjobs.transport.fastpath unavailable"
    )


def test_short_handshake_saves_three_round_trips(nodes, collect):
    cautious, cautious_trace = _round_trips(nodes, fast=False)
    fast, fast_trace = _round_trips(nodes, fast=True)
    # version; kex; newkeys + service + auth; channel open; exec
    assert fast == 5, fast_trace
    # asyncssh's own also waits for the service accept, the none probe and the key query
    assert cautious == 8, cautious_trace


def _sshd_auth_lines(host, client_port: int) -> list[str]:
    """The host's sshd log lines about the connection from ``client_port`` (its last one)."""
    pattern = re.compile(rf"from \S+ port {client_port}\b")

    def mine() -> list[str]:
        lines = (host.dir / "sshd.log").read_text(errors="replace").splitlines()
        starts = [
            i
            for i, line in enumerate(lines)
            if line.startswith("Connection from") and pattern.search(line)
        ]
        return [line for line in lines[starts[-1] if starts else 0 :] if pattern.search(line)]

    return wait_until(
        mine,
        until=lambda found: any(line.startswith("Accepted publickey") for line in found),
        timeout=5,
        message=f"sshd logged the accepted key of the client from port {client_port}",
    )


def test_first_key_is_offered_signed_without_a_query(nodes, collect):
    host = nodes.farm.direct[1]

    async def client_port(fast: bool) -> int:
        async with nodes.node(host, fast_handshake=fast) as node:
            return node.connection.ssh_connection.get_extra_info("sockname")[1]

    fast = _sshd_auth_lines(host, asyncio.run(client_port(True)))
    cautious = _sshd_auth_lines(host, asyncio.run(client_port(False)))
    for lines in (fast, cautious):
        assert any(line.startswith("Accepted publickey") for line in lines), lines
    assert not any(line.startswith("Postponed publickey") for line in fast), fast
    assert any(line.startswith("Postponed publickey") for line in cautious), cautious


def test_refused_first_key_falls_back_to_the_next(nodes, collect):
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    node = nodes.node(
        nodes.farm.direct[0], keys=[stranger, str(nodes.farm.client_key)], fast_handshake=True
    )
    job = SshJob(node, command=Run("echo", "second key"))
    assert Scheduler(job).run(), job.raised_exception()
    assert collect.stdout() == b"second key\n"


def test_only_refused_keys_is_an_authentication_error(nodes, collect):
    from sshjobs import AuthenticationError

    node = nodes.node(
        nodes.farm.direct[0],
        keys=[asyncssh.generate_private_key("ssh-ed25519")],
        fast_handshake=True,
    )
    job = SshJob(node, command="true", critical=False)
    Scheduler(job).run()
    assert isinstance(job.raised_exception(), AuthenticationError), job.raised_exception()


def test_environment_turns_it_off(monkeypatch):
    monkeypatch.setenv("SSHJOBS_FAST_HANDSHAKE", "0")
    assert SshNode("h").fast_handshake is False
    monkeypatch.delenv("SSHJOBS_FAST_HANDSHAKE")
    assert SshNode("h").fast_handshake is True
    assert SshNode("h", fast_handshake=False).fast_handshake is False


@pytest.mark.parametrize("fast", [True, False])
def test_private_nodes_through_a_gateway(nodes, collect, fast):
    gateway = nodes.gateway(fast_handshake=fast)
    private = [
        nodes.node(host, gateway=gateway, fast_handshake=fast) for host in nodes.farm.private
    ]
    jobs = [SshJob(node, command=Run("echo", "via gateway")) for node in private]
    assert Scheduler(*jobs).run()
    assert collect.stdout().count(b"via gateway\n") == len(private)


@pytest.mark.parametrize("fast", [True, False])
def test_empty_ignore_packets_are_left_out_with_an_aead_cipher(nodes, fast):
    from asyncssh.constants import MSG_IGNORE
    from asyncssh.packet import String

    async def scenario():
        async with nodes.node(nodes.farm.direct[0], fast_handshake=fast) as node:
            conn = node.connection.ssh_connection
            assert conn.get_extra_info("send_cipher").endswith(
                ("gcm@openssh.com", "poly1305@openssh.com")
            )
            before = conn._send_seq
            conn.send_packet(MSG_IGNORE, String(b""))
            return conn._send_seq - before

    assert asyncio.run(scenario()) == (0 if fast else 1)


@pytest.mark.parametrize("algorithm", ["ssh-rsa", "ecdsa-sha2-nistp256"])
def test_rsa_and_ecdsa_keys_log_in_signed_at_once(nodes, collect, algorithm):
    # an RSA signature's hash depends on the server-sig-algs of the server's EXT_INFO: the
    # pipelined request waits for it, and must not fall back to SHA-1 (refused by OpenSSH)
    host = nodes.farm.direct[0]
    key = asyncssh.generate_private_key(algorithm)
    authorized = nodes.farm.home_of(host) / ".ssh" / "authorized_keys"
    before = authorized.read_text()
    authorized.write_text(before + key.export_public_key().decode())
    try:

        async def client_port() -> int:
            async with nodes.node(host, keys=[key], fast_handshake=True) as node:
                return node.connection.ssh_connection.get_extra_info("sockname")[1]

        lines = _sshd_auth_lines(host, asyncio.run(client_port()))
    finally:
        authorized.write_text(before)
    kind = "RSA" if algorithm == "ssh-rsa" else "ECDSA"
    assert any(line.startswith("Accepted publickey") and f": {kind} " in line for line in lines), (
        lines
    )
    assert not any(line.startswith("Postponed publickey") for line in lines), lines


@pytest.mark.parametrize("fast", [True, False])
def test_connection_lost_after_pipelined_auth_says_how_to_turn_it_off(nodes, fast):
    # the relay drops the connection when the client sends its third burst: with the short
    # handshake, the service request and the pipelined authentication; else the service request
    host = nodes.farm.direct[0]

    async def scenario():
        relay = TurnCountingRelay(host.address, host.port, cut_at_client_burst=3)
        port = await relay.start()
        node = SshNode(
            "127.0.0.1",
            port=port,
            username="root",
            host_keys="ignore",
            formatter=nodes.formatter,
            fast_handshake=fast,
            timeout=20,
        )
        job = SshJob(node, command="true", critical=False)
        await Scheduler(job).co_run()
        await relay.stop()
        return job.raised_exception()

    error = asyncio.run(scenario())
    assert isinstance(error, SshConnectionError), error
    assert ("SSHJOBS_FAST_HANDSHAKE=0" in str(error)) == fast, str(error)


def _warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == fastpath.__name__ and r.levelname == "WARNING"
    ]


def _run_twice_and_get_connection_types(nodes) -> list[type]:
    """Two nodes' connections (same host), the types of their asyncssh connection objects."""

    async def scenario():
        kinds = []
        for _ in range(2):
            async with nodes.node(nodes.farm.direct[0], fast_handshake=True) as node:
                assert await node.run("true") == 0
                kinds.append(type(node.connection.ssh_connection))
        return kinds

    return asyncio.run(scenario())


@pytest.mark.parametrize("missing", ["classes", "connect"])
def test_without_the_internals_connections_are_asyncssh_ones_and_a_warning_says_so_once(
    nodes, caplog, monkeypatch, missing
):
    """An asyncssh whose internals moved: the short handshake cannot be installed, the
    connections are plain ones (ours without the short handshake, or asyncssh.connect's own
    when even its connection opener moved), and one warning says so."""
    monkeypatch.setattr(fastpath, "_warned", set())
    monkeypatch.setattr(fastpath, "_FOUND", None)
    if missing == "connect":
        monkeypatch.setattr(fastpath, "_CONNECT", None)
    caplog.set_level("WARNING", logger=fastpath.__name__)
    kinds = _run_twice_and_get_connection_types(nodes)
    expected = asyncssh.SSHClientConnection if missing == "connect" else fastpath._OwnConnection
    assert kinds == [expected, expected]
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "short handshake is not available" in warnings[0], warnings


def test_a_connection_lacking_an_internal_attribute_uses_asyncssh_handshake(
    nodes, caplog, monkeypatch
):
    monkeypatch.setattr(fastpath, "_warned", set())
    monkeypatch.setattr(fastpath, "_INSTANCE_ATTRS", (*fastpath._INSTANCE_ATTRS, "_no_such"))
    caplog.set_level("WARNING", logger=fastpath.__name__)

    async def scenario():
        async with nodes.node(nodes.farm.direct[0], fast_handshake=True) as node:
            assert await node.run("true") == 0
            return node.connection.ssh_connection.pipelined_auth()

    assert asyncio.run(scenario()) is False
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "_no_such" in warnings[0], warnings


def test_no_warning_when_the_short_handshake_was_not_asked_for(nodes, caplog, monkeypatch):
    monkeypatch.setattr(fastpath, "_warned", set())
    monkeypatch.setattr(fastpath, "_FOUND", None)
    caplog.set_level("WARNING", logger=fastpath.__name__)

    async def scenario():
        async with nodes.node(nodes.farm.direct[0], fast_handshake=False) as node:
            return await node.run("true")

    assert asyncio.run(scenario()) == 0
    assert _warnings(caplog) == []


def test_agent_keys_are_asked_about_before_being_signed(nodes, collect, tmp_path, monkeypatch):
    """A key held by an ssh-agent may need a confirmation (ssh-add -c) or a token: the short
    handshake queries it first, as OpenSSH does (the sshd log shows the query)."""
    import shutil
    import subprocess

    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("no ssh-agent")
    agent = subprocess.run(
        ["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pid = int(re.search(r"SSH_AGENT_PID=(\d+)", agent).group(1))
    try:
        env = {"SSH_AUTH_SOCK": str(tmp_path / "agent.sock")}
        subprocess.run(
            ["ssh-add", str(nodes.farm.client_key)], env=env, check=True, capture_output=True
        )
        monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
        host = nodes.farm.direct[1]

        async def client_port() -> int:
            async with SshNode(
                host.address,
                port=host.port,
                username="root",
                formatter=collect,
                fast_handshake=True,
                known_hosts=str(nodes.farm.known_hosts),
                config=None,
            ) as node:
                assert node.keyset().agent_path == env["SSH_AUTH_SOCK"]
                return node.connection.ssh_connection.get_extra_info("sockname")[1]

        lines = _sshd_auth_lines(host, asyncio.run(client_port()))
    finally:
        import os
        import signal

        os.kill(pid, signal.SIGTERM)
    assert any(line.startswith("Accepted publickey") for line in lines), lines
    assert any(line.startswith("Postponed publickey") for line in lines), lines


@pytest.mark.parametrize("fast", [True, False])
def test_too_many_refused_keys_is_an_authentication_error_without_the_pipelining_hint(
    nodes, collect, fast
):
    """sshd closes the connection after MaxAuthTries (6) refused keys, with or without the
    short handshake: an AuthenticationError, and no hint about pipelined authentication."""
    from sshjobs import AuthenticationError

    strangers = [asyncssh.generate_private_key("ssh-ed25519") for _ in range(8)]
    node = nodes.node(nodes.farm.direct[0], keys=strangers, fast_handshake=fast)
    job = SshJob(node, command="true", critical=False)
    Scheduler(job).run()
    error = job.raised_exception()
    assert isinstance(error, AuthenticationError), error
    assert "too many refused keys" in str(error) and "FAST_HANDSHAKE" not in str(error)


def test_a_refused_password_says_password(nodes, collect):
    from sshjobs import AuthenticationError

    node = nodes.node(
        nodes.farm.direct[0],
        keys=[asyncssh.generate_private_key("ssh-ed25519")],
        password="not-the-password",
    )
    job = SshJob(node, command="true", critical=False)
    Scheduler(job).run()
    error = job.raised_exception()
    assert isinstance(error, AuthenticationError), error
    assert "password was refused" in str(error), error
