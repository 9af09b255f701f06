"""Each fault helper of the farm has the effect it claims, and reset() undoes it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time

import asyncssh
import pytest


def ssh(farm, host, command="hostname", user="root", timeout=30):
    return subprocess.run(
        farm.ssh_argv(host, command, user=user), capture_output=True, text=True, timeout=timeout
    )


def connect_error(host, timeout=3.0):
    """The exception a plain TCP connect to the host's sshd gets (None if it connects)."""
    try:
        socket.create_connection((host.address, host.port), timeout=timeout).close()
    except OSError as exc:
        return exc
    return None


def test_stop_refuses_new_connections_and_start_brings_sshd_back(faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[0]
    farm.stop(host)
    assert isinstance(connect_error(host), ConnectionRefusedError)
    out = ssh(farm, host)
    assert out.returncode == 255 and "refused" in out.stderr
    farm.start(host)
    assert ssh(farm, host).stdout.strip() == host.name


def test_stop_keeps_sessions_unless_asked_to_kill_them(faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[1]
    argv = farm.ssh_argv(host, "echo ready; read line; echo got:$line; sleep 60")
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as session:
        assert session.stdout.readline() == "ready\n"
        farm.stop(host)
        session.stdin.write("x\n")
        session.stdin.flush()
        assert session.stdout.readline() == "got:x\n"  # the session survived
        assert any("sleep 60" in cmd for cmd in farm.processes(host).values())
        farm.stop(host, kill_sessions=True)
        assert session.wait(10) == 255  # ... and now it is gone
        assert farm.processes(host) == {}
    farm.start(host)
    assert ssh(farm, host).returncode == 0


def test_cut_and_restore_link(faulty_farm):
    farm = faulty_farm
    if not farm.isolated:
        pytest.skip(farm.isolation_reason)
    direct, private = farm.direct[0], farm.private[0]
    farm.cut(direct)
    farm.cut(private)
    assert connect_error(direct, timeout=1) is not None
    out = ssh(farm, farm.gateway, f"timeout 1 bash -c 'exec 3<>/dev/tcp/{private.address}/22'")
    assert out.returncode != 0
    farm.restore(direct)
    farm.restore(private)
    assert connect_error(direct) is None
    assert ssh(farm, private).stdout.strip() == private.name


def banner_delay(host):
    """Seconds between connecting to the host's sshd and receiving its SSH banner."""
    with socket.create_connection((host.address, host.port), timeout=10) as sock:
        start = time.monotonic()
        assert sock.makefile("rb").readline().startswith(b"SSH-2.0-")
        return time.monotonic() - start


def test_delay_adds_latency_and_clear_removes_it(isolated_farm, faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[0]
    farm.delay(host, 200)
    assert banner_delay(host) >= 0.2  # what the host sends waits 200 ms
    assert ssh(farm, host).stdout.strip() == host.name  # still works, just slowly
    qdisc = farm.run_on(host, "tc", "qdisc", "show", "dev", "eth0").stdout
    assert "netem" in qdisc or any("delayrelay" in c for c in farm.processes(host).values())
    farm.clear(host)
    # nothing delays any more (no relay process, no qdisc); no upper bound on timings here:
    # other test sessions may load the machine
    assert not any("delayrelay" in cmd for cmd in farm.processes(host).values())
    qdisc = farm.run_on(host, "tc", "qdisc", "show", "dev", "eth0").stdout
    assert "netem" not in qdisc
    assert ssh(farm, host).stdout.strip() == host.name


def test_delay_on_a_private_host(isolated_farm, faulty_farm):
    farm, host = faulty_farm, faulty_farm.private[1]
    farm.delay(host, 150)
    start = time.monotonic()
    assert ssh(farm, host).stdout.strip() == host.name
    assert time.monotonic() - start >= 0.15
    farm.clear(host)


def test_loss_needs_netem(isolated_farm, faulty_farm):
    from fixtures.farm import FarmError
    from fixtures.network import netem_supported

    if netem_supported():
        faulty_farm.delay(faulty_farm.direct[0], 0, loss=100)
        assert isinstance(connect_error(faulty_farm.direct[0], timeout=1.5), TimeoutError)
    else:
        with pytest.raises(FarmError, match="netem"):
            faulty_farm.delay(faulty_farm.direct[0], 10, loss=5)


def test_blackhole_gives_timeouts_not_refusals(isolated_farm, faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[1]
    farm.stop(host)  # a closed port would answer with a RST...
    farm.blackhole(host)
    assert isinstance(connect_error(host, timeout=1.5), TimeoutError)  # ... but no answer
    farm.unblackhole(host)
    assert isinstance(connect_error(host), ConnectionRefusedError)
    farm.start(host)
    assert ssh(farm, host).returncode == 0


async def asyncssh_hostname(farm, host):
    async with asyncssh.connect(**farm.connect_options(host)) as conn:
        return (await conn.run("hostname", check=True)).stdout.strip()


def test_replace_host_key_makes_clients_refuse_the_host(faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[0]
    old = host.host_key
    new = farm.replace_host_key(host)
    assert new != old
    out = ssh(farm, host)
    assert out.returncode == 255 and "Host key verification failed" in out.stderr
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(asyncssh_hostname(farm, host))
    farm.restore_host_key(host)
    assert asyncio.run(asyncssh_hostname(farm, host)) == host.name


def test_reset_undoes_every_fault(faulty_farm):
    farm = faulty_farm
    farm.stop(farm.direct[0])
    farm.replace_host_key(farm.direct[1])
    if farm.isolated:
        farm.cut(farm.private[0])
        farm.blackhole(farm.private[1])
        farm.delay(farm.private[2], 50)
    farm.reset()
    for host in farm.hosts:
        assert ssh(farm, host).stdout.strip() == host.name


def test_run_on_executes_inside_the_host(farm):
    host = farm.private[2]
    out = farm.run_on(host, "hostname")
    assert out.stdout.strip() == host.name
    assert any("sshd" in cmd for cmd in farm.processes(host).values())
