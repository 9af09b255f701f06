"""The farm's hosts are real sshd servers with the topology and client set-up they claim."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess

import asyncssh
import pytest

#: what connecting to an address the farm keeps apart fails with: at once, locally (the route
#: is "unreachable", or there is none), never a time-out
UNREACHABLE = r"\[Errno \d+\] (No route to host|Network is unreachable)$"


def ssh(farm, host, command, user="root", timeout=30):
    return subprocess.run(
        farm.ssh_argv(host, command, user=user), capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("user", ["root", "farmuser"])
def test_every_host_answers_through_openssh(farm, user):
    assert farm.user == "farmuser"
    assert len(farm.direct) >= 2 and len(farm.private) >= 3
    assert farm.hosts == [farm.gateway, *farm.direct, *farm.private]
    assert len({h.address for h in farm.hosts}) == len(farm.hosts)
    for host in farm.hosts:
        out = ssh(farm, host, "hostname; id -u", user=user)
        assert out.returncode == 0, (host, out.stderr)
        name, uid = out.stdout.split()
        assert name == host.name
        assert (uid == "0") == (user == "root")


async def _asyncssh_identities(farm, user):
    answers = {}
    async with asyncssh.connect(**farm.connect_options(farm.gateway, user)) as gateway:
        for host in farm.hosts:
            tunnel = gateway if host in farm.private else None
            async with asyncssh.connect(**farm.connect_options(host, user), tunnel=tunnel) as conn:
                result = await conn.run("hostname; id -u", check=True)
                answers[host.name] = result.stdout.split()
    return answers


@pytest.mark.parametrize("user", ["root", "farmuser"])
def test_every_host_answers_through_asyncssh(farm, user):
    answers = asyncio.run(_asyncssh_identities(farm, user))
    for host in farm.hosts:
        name, uid = answers[host.name]
        assert name == host.name
        assert (uid == "0") == (user == "root")


def test_client_runs_with_isolated_home(farm):
    assert os.environ["HOME"] == str(farm.home)
    assert "SSH_AUTH_SOCK" not in os.environ
    assert farm.client_key.parent == farm.home / ".ssh"
    assert farm.known_hosts.read_text().count("ssh-ed25519") == len(farm.hosts)


def test_remote_shell_is_clean(farm):
    """No slow start-up files: root's pyenv initialisation is not run on the hosts."""
    for user, home in (("root", "/root"), ("farmuser", "/home/farmuser")):
        out = ssh(farm, farm.direct[0], 'echo "home=$HOME pyenv=$PYENV_ROOT"', user=user)
        assert out.stdout.strip() == f"home={home} pyenv=", out.stderr


def test_private_hosts_unreachable_directly(isolated_farm):
    farm = isolated_farm
    for host in farm.private:
        with pytest.raises(OSError, match=UNREACHABLE):
            socket.create_connection((host.address, host.port), timeout=3).close()
        # ... while the gateway reaches them
        out = ssh(farm, farm.gateway, f"exec 3<>/dev/tcp/{host.address}/{host.port} && echo ok")
        assert out.stdout.strip() == "ok", out.stderr
    for host in [farm.gateway, *farm.direct]:
        socket.create_connection((host.address, host.port), timeout=3).close()


def test_neighbours_are_permanent(isolated_farm):
    """No ARP traffic to resolve farm hosts (and no neighbour-table overflow with hundreds)."""
    farm = isolated_farm
    bridge = f"sjf{farm.instance}a"
    table = subprocess.run(
        ["ip", "neigh", "show", "dev", bridge], capture_output=True, text=True, check=True
    ).stdout
    for host in [farm.gateway, *farm.direct]:
        assert f"{host.address} lladdr {host.mac} PERMANENT" in table


def test_farm_supernet_never_leaves_the_machine(isolated_farm):
    """Any address of the farm's supernet that no farm uses fails locally, at once."""
    from fixtures.network import SUPERNET

    out = subprocess.run(
        ["ip", "route", "get", str(SUPERNET.network_address + 65000)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 or out.stdout.startswith("unreachable"), out.stdout
    with pytest.raises(OSError, match=UNREACHABLE):
        socket.create_connection((str(SUPERNET.network_address + 65000), 22), timeout=3)


def test_hosts_resolve_each_other_by_name(farm):
    out = ssh(farm, farm.gateway, "getent hosts private2 direct1")
    assert out.stdout.split() == [
        farm.private[1].address,
        "private2",
        farm.direct[0].address,
        "direct1",
    ], out.stderr


def test_accepted_connections_counts_each_connection(farm):
    host = farm.direct[1]
    before = farm.accepted_connections(host)
    for _ in range(2):
        assert ssh(farm, host, "true").returncode == 0
    assert farm.accepted_connections(host) == before + 2
    # a connection through the gateway is accepted by both
    gateway_before = farm.accepted_connections(farm.gateway)
    private_before = farm.accepted_connections(farm.private[0])
    assert ssh(farm, farm.private[0], "true").returncode == 0
    assert farm.accepted_connections(farm.gateway) == gateway_before + 1
    assert farm.accepted_connections(farm.private[0]) == private_before + 1


def test_hosts_have_private_tmp_and_homes(farm):
    one, other = farm.direct[0], farm.direct[1]
    (farm.tmp_of(one) / "mark").write_text("here")
    try:
        assert ssh(farm, one, "cat /tmp/mark").stdout == "here"
        assert ssh(farm, other, "cat /tmp/mark").returncode != 0
    finally:
        (farm.tmp_of(one) / "mark").unlink()
    assert ssh(farm, one, "touch ~/pushed").returncode == 0
    assert (farm.home_of(one) / "pushed").exists()
    assert not (farm.home_of(other) / "pushed").exists()
    (farm.home_of(one) / "pushed").unlink()


def test_test_farm_keeps_default_max_sessions(farm):
    host = farm.direct[0]
    out = subprocess.run(
        ["/usr/sbin/sshd", "-T", "-f", str(host.dir / "sshd_config")],
        capture_output=True,
        text=True,
    )
    assert "maxsessions 10\n" in out.stdout
