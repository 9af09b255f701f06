"""sshjobs against Dropbear, a second real SSH server (common on embedded testbed nodes): the
short handshake (pipelined authentication, first key signed at once) and asyncssh's own both
log in, run commands and fall back to the next key.

Dropbear runs in a farm host's namespaces (its /root, so the farm's authorized_keys), next to
that host's sshd, on port 2222. Skipped when dropbear is not installed (``bin/setup`` installs
dropbear-bin when it can)."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import shutil
import socket
import subprocess

import asyncssh
import pytest
from fixtures import sshd
from fixtures.waiting import wait_until
from sshjobs_helpers import collect  # noqa: F401 (fixture)

from asynciojobs import Scheduler
from sshjobs import Run, SshJob, SshNode

DROPBEAR = shutil.which("dropbear") or "/usr/sbin/dropbear"
PORT = 2222


@pytest.fixture(scope="module")
def dropbear(farm):
    """(address, port) of a Dropbear server on the farm's first direct host."""
    if not shutil.which("dropbearkey") or not shutil.which(DROPBEAR):
        pytest.skip("dropbear is not installed (apt-get install dropbear-bin)")
    host = farm.direct[0]
    scratch = host.dir / "dropbear"  # not under /tmp: the host has its own /tmp
    scratch.mkdir(exist_ok=True)
    keys = []
    for kind in ("ed25519", "rsa"):  # Dropbear 2022.83 aborts with an ed25519 key only
        key = scratch / f"dropbear_{kind}_host_key"
        subprocess.run(["dropbearkey", "-t", kind, "-f", str(key)], check=True, capture_output=True)
        keys += ["-r", str(key)]
    spec = sshd.launch_spec(host.dir, f"{host.name}-dropbear", host.netns, farm.dir)
    spec["argv"] = [DROPBEAR, "-F", *keys, "-E", "-s", "-p", f"{host.address}:{PORT}"]
    spec["stderr"] = str(scratch / "dropbear.log")
    process = sshd.launch([spec])[spec["name"]]
    try:

        def banner() -> bytes | str:
            if process.poll() is not None:
                pytest.fail(f"dropbear exited: {(scratch / 'dropbear.log').read_text()}")
            try:
                with socket.create_connection((host.address, PORT), timeout=1) as sock:
                    return sock.makefile("rb").readline()
            except OSError as error:
                return str(error)

        wait_until(
            banner,
            until=lambda line: isinstance(line, bytes) and line.startswith(b"SSH-2.0-dropbear"),
            timeout=10,
            message="dropbear answers with its banner",
        )
        yield host.address, PORT
    finally:
        process.kill()
        process.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)


def _node(dropbear, formatter, **kwds) -> SshNode:
    address, port = dropbear
    return SshNode(
        address,
        port=port,
        username="root",
        host_keys="ignore",
        config=None,
        formatter=formatter,
        **kwds,
    )


@pytest.mark.parametrize("fast", [True, False], ids=["short-handshake", "asyncssh-handshake"])
def test_commands_run_on_dropbear(dropbear, farm, collect, fast):
    node = _node(dropbear, collect, keys=[str(farm.client_key)], fast_handshake=fast)
    jobs = [SshJob(node, command=Run("echo", "one")), SshJob(node, command=Run("echo", "two"))]
    assert Scheduler(*jobs).run(), [job.raised_exception() for job in jobs]
    assert sorted(collect.stdout().splitlines()) == [b"one", b"two"]
    assert node.connections_opened == 1


def test_refused_first_key_falls_back_on_dropbear(dropbear, farm, collect):
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    node = _node(dropbear, collect, keys=[stranger, str(farm.client_key)], fast_handshake=True)
    job = SshJob(node, command=Run("echo", "second key"))
    assert Scheduler(job).run(), job.raised_exception()
    assert collect.stdout() == b"second key\n"
