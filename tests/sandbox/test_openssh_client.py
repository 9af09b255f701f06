"""The OpenSSH client (ssh, sftp) talks to sandbox nodes, directly and through the gateway."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from sshjobs.sandbox import Sandbox

pytestmark = pytest.mark.skipif(not shutil.which("ssh"), reason="OpenSSH client not installed")


async def run(*argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def direct_argv(sandbox: Sandbox, port: int, *command: str) -> list[str]:
    return [
        "ssh",
        "-F",
        "none",
        "-i",
        str(sandbox.client_key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={sandbox.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-p",
        str(port),
        "127.0.0.1",
        *command,
    ]


def test_ssh_with_key_and_known_hosts_options(with_sandbox):
    async def body(sandbox: Sandbox):
        node = sandbox.nodes[0]
        code, out, err = await run(*direct_argv(sandbox, node.port, "pwd; echo bad >&2; exit 4"))
        assert (code, out.strip(), err.strip()) == (4, str(node.home), "bad")

    with_sandbox(body)


def test_ssh_through_the_gateway_with_the_sandbox_ssh_config(with_sandbox):
    async def body(sandbox: Sandbox):
        assert "ProxyJump gateway" in sandbox.ssh_config.read_text()
        code, out, _ = await run(*sandbox.ssh_argv(sandbox.nodes[1], "echo $SSHJOBS_SANDBOX_NODE"))
        assert (code, out) == (0, "node2\n")

    with_sandbox(body)


def test_ssh_refuses_an_unknown_key(with_sandbox, tmp_path):
    async def body(sandbox: Sandbox):
        other = tmp_path / "other_key"
        code, _, _ = await run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other))
        assert code == 0
        argv = direct_argv(sandbox, sandbox.nodes[0].port, "true")
        argv[argv.index(str(sandbox.client_key))] = str(other)
        code, _, err = await run(*argv)
        assert code == 255 and "Permission denied" in err

    with_sandbox(body)


def test_openssh_sftp_through_the_gateway(with_sandbox, tmp_path):
    local = tmp_path / "up.txt"
    local.write_text("via sftp\n")
    back = tmp_path / "back.txt"

    async def body(sandbox: Sandbox):
        node = sandbox.nodes[0]
        batch = f"put {local} up.txt\nget up.txt {back}\n".encode()
        code, _, err = await run(
            "sftp", "-F", str(sandbox.ssh_config), "-b", "-", node.name, stdin=batch
        )
        assert code == 0, err
        assert (node.home / "up.txt").read_text() == "via sftp\n"

    with_sandbox(body)
    assert back.read_text() == "via sftp\n"
