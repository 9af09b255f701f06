"""Failures on the farm: timeouts that kill remote commands, dead hosts, host keys, bad
credentials, refused ports - each naming its host, other nodes unaffected."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import time
import uuid

import asyncssh
import pytest
from fixtures.waiting import empty, wait_until, wait_until_async
from sshjobs_helpers import Nodes, collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import (
    AuthenticationError,
    CommandTimeoutError,
    GatewayError,
    HostKeyError,
    Run,
    SshConnectionError,
    SshJob,
    SshNode,
)


def _leftovers(farm, host, marker):
    return [cmd for cmd in farm.processes(host).values() if marker in cmd]


def _wait_gone(farm, host, marker):
    wait_until(
        lambda: _leftovers(farm, host, marker),
        until=empty,
        message=f"no process mentioning {marker!r} left on {host.name}",
    )


def test_command_timeout_kills_the_remote_process_group(nodes):
    farm = nodes.farm
    host = farm.direct[0]
    marker = f"3{uuid.uuid4().int % 10**6:06d}"
    node = nodes.node(host)
    job = SshJob(
        node,
        commands=[
            Run(f"sleep {marker} & sleep 1{marker}; echo never", timeout=0.5),
            Run("echo not reached"),
        ],
    )
    start = time.monotonic()
    assert Scheduler(job).run() is False
    assert time.monotonic() - start < 10
    exc = job.raised_exception()
    assert isinstance(exc, CommandTimeoutError) and exc.host == node.hostname
    assert len(job.results) == 1 and isinstance(job.results[0].error, CommandTimeoutError)
    _wait_gone(farm, host, marker)


def test_cancelled_job_kills_the_remote_command(nodes):
    """A scheduler timeout cancels the job: the remote command must not survive."""
    farm = nodes.farm
    host = farm.private[2]
    marker = f"4{uuid.uuid4().int % 10**6:06d}"
    node = nodes.node(host, gateway=nodes.gateway())
    job = SshJob(node, command=f"sleep {marker}")
    # (a generous shutdown_timeout: the kill happens during the shutdown, on a loaded machine)
    assert Scheduler(job, timeout=1, shutdown_timeout=10).run() is False
    _wait_gone(farm, host, marker)


def test_cancelled_job_on_a_slow_link_is_killed_despite_a_short_shutdown(faulty_farm, collect):
    """The scheduler's shutdown_timeout is shorter than the kill takes over a slow link (as the
    default 1 s is on a loaded machine): the kill under way still lands before the connection
    is closed, instead of the command running on."""
    farm = faulty_farm
    host = farm.direct[1]
    farm.delay(host, 600)  # each round trip ~0.6 s: the kill needs more than 1 s
    marker = f"5{uuid.uuid4().int % 10**6:06d}"
    node = Nodes(farm, collect).node(host, timeout=20)
    job = SshJob(node, command=f"echo started; sleep {marker}")
    assert Scheduler(job, timeout=8, shutdown_timeout=0.05).run() is False
    assert b"started" in collect.stdout(), "the command did not start before the timeout"
    _wait_gone(farm, host, marker)


def test_node_command_timeout_default_and_allowed_signal(nodes):
    node = nodes.node(nodes.farm.direct[1], command_timeout=0.5)
    job = SshJob(node, critical=False, commands=[Run("sleep 30"), Run("echo fine")])
    assert Scheduler(job).run()
    assert isinstance(job.results[0].error, CommandTimeoutError)
    assert job.results[1].ok


def test_dead_host_is_noticed_by_keepalive(faulty_farm, nodes):
    farm = faulty_farm
    if not farm.isolated:
        pytest.skip(farm.isolation_reason)
    host = farm.direct[1]
    node = nodes.node(host, keepalive_interval=0.5, keepalive_count_max=2)
    started = []

    async def main():
        job = SshJob(node, commands=[Run("echo up"), Run("sleep 60")])
        scheduler = Scheduler(job)
        task = asyncio.create_task(scheduler.co_run())
        await wait_until_async(lambda: job.results, message="'echo up' done")
        farm.cut(host)
        started.append(time.monotonic())
        await task
        return job

    job = asyncio.run(main())
    assert time.monotonic() - started[0] < 8
    assert isinstance(job.raised_exception(), SshConnectionError)
    assert job.raised_exception().host == node.hostname


def test_bad_credentials_refused_port_and_other_nodes_unaffected(nodes, collect, tmp_path):
    farm = nodes.farm
    other_key = asyncssh.generate_private_key("ssh-ed25519")
    other_key.write_private_key(str(tmp_path / "other_key"))
    bad_key = nodes.node(farm.direct[0], keys=[str(tmp_path / "other_key")])
    bad_user = nodes.node(farm.direct[1], username="nosuchuser")
    refused = SshNode("127.0.0.1", port=1, formatter=collect, timeout=5)
    gateway = nodes.gateway()
    behind_refused = SshNode("127.0.0.1", port=1, gateway=gateway, formatter=collect)
    good = nodes.node(farm.private[0], gateway=gateway)
    jobs = {
        name: SshJob(node, command="echo ok", critical=False)
        for name, node in [
            ("key", bad_key),
            ("user", bad_user),
            ("refused", refused),
            ("tunnel", behind_refused),
            ("good", good),
        ]
    }
    assert Scheduler(*jobs.values()).run()
    errors = {name: job.raised_exception() for name, job in jobs.items()}
    assert isinstance(errors["key"], AuthenticationError)
    assert errors["key"].host == farm.direct[0].address and "root" in str(errors["key"])
    assert isinstance(errors["user"], AuthenticationError)
    assert isinstance(errors["refused"], SshConnectionError)
    assert "refused" in str(errors["refused"]) and errors["refused"].host == "127.0.0.1"
    assert isinstance(errors["tunnel"], GatewayError)
    assert errors["tunnel"].gateway == gateway.hostname
    assert isinstance(errors["key"].__cause__, asyncssh.PermissionDenied)
    assert errors["good"] is None and collect.stdout(good.hostname) == b"ok\n"
    assert jobs["key"].results[0].error is errors["key"]


def test_unreachable_gateway_is_a_gateway_error(nodes, collect):
    gateway = SshNode("127.0.0.1", port=1, formatter=collect)
    node = nodes.node(nodes.farm.private[0], gateway=gateway)
    job = SshJob(node, command="true")
    assert Scheduler(job).run() is False
    exc = job.raised_exception()
    assert isinstance(exc, GatewayError) and exc.host == node.hostname
    assert isinstance(exc.__cause__, SshConnectionError)


@pytest.fixture
def empty_home(farm, monkeypatch, tmp_path):
    """A HOME with no known_hosts, no key, no config: only what a test passes explicitly."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def test_host_key_unknown_mismatch_accept_new_ignore(farm, empty_home, collect, tmp_path):
    host = farm.direct[0]
    common = dict(port=host.port, username="root", keys=[str(farm.client_key)], formatter=collect)

    def attempt(**kwds):
        job = SshJob(SshNode(host.address, **common, **kwds), command="echo in")
        Scheduler(job).run()
        return job.raised_exception()

    unknown = attempt(host_keys="strict")  # the default, accept-new, would trust it
    assert isinstance(unknown, HostKeyError) and unknown.host == host.address
    assert unknown.received.startswith("SHA256:") and unknown.expected == ()
    assert unknown.received in str(unknown) and "strict (host_keys=strict)" in str(unknown)
    assert not (empty_home / ".ssh" / "known_hosts").exists()

    wrong = tmp_path / "wrong_known_hosts"
    fake = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    wrong.write_text(
        f"[{host.address}]:{host.port} {fake[0]} {fake[1]}\n"
        if host.port != 22
        else f"{host.address} {fake[0]} {fake[1]}\n"
    )
    mismatch = attempt(known_hosts=str(wrong))  # default policy: refused all the same
    assert isinstance(mismatch, HostKeyError) and len(mismatch.expected) == 1
    assert "MISMATCH" in str(mismatch) and mismatch.expected[0] in str(mismatch)
    assert f"{wrong}:1" in str(mismatch)
    assert attempt(known_hosts=str(wrong), host_keys="strict") is not None

    recorded = tmp_path / "recorded"
    assert attempt(host_keys="accept-new", record_known_hosts=str(recorded)) is None
    assert host.address in recorded.read_text()
    assert attempt(known_hosts=str(recorded), host_keys="strict") is None  # now trusted
    assert attempt(host_keys="ignore") is None
    assert attempt(known_hosts=None) is None  # apssh's "no check"


def test_ssh_config_alias_user_port_identity(farm, collect):
    """farm.home/.ssh/config names each host (HostName, Port, IdentityFile); private hosts
    have ProxyJump gateway, which asyncssh follows when no gateway node is given."""
    direct = SshNode(farm.direct[0].name, formatter=collect)
    private = SshNode(farm.private[0].name, formatter=collect)
    jobs = [SshJob(direct, command="echo direct"), SshJob(private, command="echo private")]
    assert Scheduler(*jobs).run(), [j.raised_exception() for j in jobs]
    assert collect.stdout(farm.direct[0].name) == b"direct\n"
    assert collect.stdout(farm.private[0].name) == b"private\n"


@pytest.fixture
def agent(tmp_path):
    """A real ssh-agent of our own (stopped at the end)."""
    import subprocess

    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_until(sock.exists, timeout=5, interval=0.02, message=f"ssh-agent listens on {sock}")
    try:
        yield sock
    finally:
        proc.terminate()
        proc.wait(5)


def test_agent_keys_and_key_files_are_both_offered(farm, empty_home, agent, monkeypatch, collect):
    import subprocess

    host = farm.direct[0]
    stranger = asyncssh.generate_private_key("ssh-ed25519")

    def attempt():
        node = SshNode(
            host.address, port=host.port, known_hosts=str(farm.known_hosts), formatter=collect
        )
        job = SshJob(node, command="echo in")
        Scheduler(job).run()
        return job.raised_exception()

    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent))
    env = {"SSH_AUTH_SOCK": str(agent), "PATH": "/usr/bin:/bin"}
    # the agent holds the authorized key, the default file is a stranger
    subprocess.run(["ssh-add", "-q", str(farm.client_key)], env=env, check=True)
    stranger.write_private_key(str(empty_home / ".ssh" / "id_ed25519"))
    assert attempt() is None
    # the agent holds a stranger, the default file is the authorized key
    subprocess.run(["ssh-add", "-q", "-D"], env=env, check=True)
    stranger.write_private_key(str(empty_home / ".ssh" / "stranger"))
    (empty_home / ".ssh" / "stranger").chmod(0o600)
    subprocess.run(["ssh-add", "-q", str(empty_home / ".ssh" / "stranger")], env=env, check=True)
    (empty_home / ".ssh" / "id_ed25519").write_bytes(farm.client_key.read_bytes())
    assert attempt() is None
    # nothing authorized anywhere: an AuthenticationError that says what was offered
    (empty_home / ".ssh" / "id_ed25519").unlink()
    error = attempt()
    assert isinstance(error, AuthenticationError) and "ssh-agent" in str(error)


def test_lost_connection_fails_the_command_and_the_node_reconnects(faulty_farm, nodes, collect):
    from asynciojobs import Job

    farm = faulty_farm
    host = farm.direct[0]
    node = nodes.node(host)
    before = nodes.counts()["direct1"]

    async def kill_sshd():
        await wait_until_async(
            lambda: list(farm.processes(host).values()),
            until=lambda commands: any("sleep 30" in cmd for cmd in commands),
            message=f"'sleep 30' runs on {host.name}",
        )
        await asyncio.to_thread(farm.stop, host, kill_sessions=True)
        await asyncio.to_thread(farm.start, host)

    first = SshJob(node, command="echo one")
    hanging = SshJob(node, command="sleep 30", critical=False, required=first)
    killer = Job(kill_sshd, required=first, critical=True)
    last = SshJob(node, command="echo two", required=[hanging, killer])
    assert Scheduler(first, hanging, killer, last).run(), last.raised_exception()
    error = hanging.raised_exception()
    if error is None:  # sshd reported the command's death before the connection's
        assert hanging.results[0].signal is not None and not hanging.results[0].ok
    else:
        assert isinstance(error, SshConnectionError) and error.host == node.hostname
        assert "lost" in str(error)
    assert collect.stdout() == b"one\ntwo\n"
    assert nodes.counts()["direct1"] - before == 2


def test_ssh_config_user_known_hosts_file_and_identity(farm, empty_home, collect):
    host = farm.direct[1]
    (empty_home / ".ssh" / "config").write_text(
        f"Host myalias\n  HostName {host.address}\n  Port {host.port}\n  User {farm.user}\n"
        f"  IdentityFile {farm.client_key}\n  UserKnownHostsFile {farm.known_hosts}\n"
    )
    node = SshNode("myalias", formatter=collect)
    assert node.username == farm.user
    job = SshJob(node, command="echo aliased; id -un")
    assert Scheduler(job).run(), job.raised_exception()
    assert collect.stdout("myalias") == f"aliased\n{farm.user}\n".encode()
    # without the config, the same host is unknown (empty ~/.ssh/known_hosts): refused when
    # strict (the default, accept-new, would trust it)
    job = SshJob(
        SshNode(host.address, port=host.port, config=None, formatter=collect, host_keys="strict"),
        command="true",
    )
    assert Scheduler(job).run() is False
    assert isinstance(job.raised_exception(), HostKeyError)


def test_connect_timeout_and_unknown_host_name(monkeypatch, collect):
    """A server that accepts TCP but never speaks SSH: the connect timeout fires. An unknown
    name (resolution refused locally, no DNS traffic): a connection error naming it."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwds):
        if host == "no-such-host.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwds)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        silent = SshNode("127.0.0.1", port=port, timeout=0.5, known_hosts=None, formatter=collect)
        unknown = SshNode("no-such-host.test", known_hosts=None, formatter=collect)
        jobs = [
            SshJob(silent, command="true", critical=False),
            SshJob(unknown, command="true", critical=False),
        ]
        start = time.monotonic()
        assert Scheduler(*jobs).run()
        assert time.monotonic() - start < 5
        timed_out, unknown_error = (job.raised_exception() for job in jobs)
        assert isinstance(timed_out, SshConnectionError) and "timed out" in str(timed_out)
        assert timed_out.host == "127.0.0.1"
        assert isinstance(unknown_error, SshConnectionError)
        assert "unknown host name 'no-such-host.test'" in str(unknown_error)
    finally:
        listener.close()


@pytest.mark.parametrize("ssh_options", [{}, {"TCPKeepAlive": "yes"}], ids=["plain", "with-O"])
def test_connect_timeout_from_ssh_config_is_the_one_reported(tmp_path, collect, ssh_options):
    """The message names the file the user wrote (not the one holding the -O options)."""
    import socket

    listener = socket.socket()  # accepts, then says nothing: the handshake never ends
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  ConnectTimeout 1\n")
    try:
        node = SshNode(
            "127.0.0.1",
            port=listener.getsockname()[1],
            timeout=30,
            known_hosts=None,
            config=str(config),
            ssh_options=ssh_options,
            formatter=collect,
        )
        job = SshJob(node, command="true", critical=False)
        start = time.monotonic()
        Scheduler(job).run()
        assert time.monotonic() - start < 10
        error = job.raised_exception()
        assert isinstance(error, SshConnectionError)
        assert f"timed out after 1s (ConnectTimeout in {config})" in str(error), str(error)
        assert node.options.resolved.config_paths[0] != str(config) or not ssh_options
    finally:
        listener.close()
