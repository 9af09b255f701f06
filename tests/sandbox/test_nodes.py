"""Sandbox nodes behave like small hosts for a plain asyncssh client."""

from __future__ import annotations

import asyncio
import gc

import asyncssh
import pytest

from sshjobs.sandbox import Sandbox

from .helpers import alive, connect, wait_pid_gone


def test_command_runs_in_node_home_with_real_status_and_stderr(with_sandbox):
    async def body(sandbox: Sandbox):
        node = sandbox.nodes[1]
        async with connect(sandbox, node) as conn:
            result = await conn.run(
                'pwd; echo "$SSHJOBS_SANDBOX_NODE $USER"; echo oops >&2; exit 3'
            )
        assert result.exit_status == 3
        assert result.stdout.splitlines() == [str(node.home), "node2 tester"]
        assert result.stderr == "oops\n"

    with_sandbox(body)


def test_stdin_reaches_the_command(with_sandbox):
    async def body(sandbox: Sandbox):
        async with connect(sandbox, sandbox.nodes[0]) as conn:
            result = await conn.run("tr a-z A-Z", input="hello\n")
        assert (result.exit_status, result.stdout) == (0, "HELLO\n")

    with_sandbox(body)


def test_a_killed_command_reports_its_signal(with_sandbox):
    async def body(sandbox: Sandbox):
        async with connect(sandbox, sandbox.nodes[0]) as conn:
            result = await conn.run("kill -TERM $$")
        assert result.exit_signal[0] == "TERM"

    with_sandbox(body)


def test_client_signal_kills_the_whole_process_group(with_sandbox):
    async def body(sandbox: Sandbox):
        async with connect(sandbox, sandbox.nodes[0]) as conn:
            process = await conn.create_process("sleep 60 & echo $!; wait")
            child = int(await process.stdout.readline())
            assert alive(child)
            process.send_signal("TERM")
            result = await process.wait()
            assert result.exit_signal[0] == "TERM"
            await wait_pid_gone(child)

    with_sandbox(body)


@pytest.mark.parametrize("pty", [False, True], ids=["pipes", "pty"])
def test_closing_the_channel_kills_the_process_group(with_sandbox, pty):
    async def body(sandbox: Sandbox):
        async with connect(sandbox, sandbox.nodes[0]) as conn:
            process = await conn.create_process(
                "sleep 60 & echo $!; test -t 1 && echo tty; wait",
                term_type="xterm" if pty else None,
            )
            child = int((await process.stdout.readline()).strip())
            if pty:
                assert (await process.stdout.readline()).strip() == "tty"
            assert alive(child)
            process.close()
            await wait_pid_gone(child)
            # the connection is still usable afterwards
            assert (await conn.run("echo still here")).stdout == "still here\n"

    with_sandbox(body)


def test_closing_the_sandbox_kills_what_commands_left_behind(tmp_path):
    async def main():
        async with Sandbox(tmp_path, 1) as sandbox:
            async with connect(sandbox, sandbox.nodes[0]) as conn:
                result = await conn.run("sleep 60 </dev/null >/dev/null 2>&1 & echo $!")
            orphan = int(result.stdout)
            assert alive(orphan)
        await wait_pid_gone(orphan)

    asyncio.run(main())


def test_sftp_is_confined_to_the_home_and_agrees_with_commands(with_sandbox, tmp_path):
    local = tmp_path / "data.txt"
    local.write_text("payload\n")

    async def body(sandbox: Sandbox):
        node = sandbox.nodes[0]
        async with connect(sandbox, node) as conn:
            async with conn.start_sftp_client() as sftp:
                assert await sftp.realpath(".") == str(node.home)
                await sftp.mkdir("in")
                await sftp.put(str(local), "in/data.txt")
                await sftp.put(str(local), f"{node.home}/abs.txt")
                for outside in ("/etc/passwd", "../../../etc/passwd", str(sandbox.client_key)):
                    with pytest.raises(asyncssh.SFTPPermissionDenied):
                        await sftp.get(outside, str(tmp_path / "stolen"))
                with pytest.raises(asyncssh.SFTPPermissionDenied):
                    await sftp.put(str(local), "/tmp/escaped.txt")
            result = await conn.run("cat in/data.txt abs.txt")
        assert result.stdout == "payload\npayload\n"
        assert not (tmp_path / "stolen").exists()

    with_sandbox(body)


def test_only_the_sandbox_key_is_accepted(with_sandbox):
    async def body(sandbox: Sandbox):
        stranger = asyncssh.generate_private_key("ssh-ed25519")
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(sandbox, sandbox.nodes[0], client_keys=[stranger]):
                pass
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(sandbox, sandbox.nodes[0], client_keys=[], password="root"):
                pass

    with_sandbox(body)


def test_host_keys_are_checked_against_the_sandbox_known_hosts(with_sandbox, tmp_path):
    async def body(sandbox: Sandbox):
        node1, node2 = sandbox.nodes
        lines = sandbox.known_hosts.read_text().splitlines()
        wrong = tmp_path / "wrong_known_hosts"
        key_of_node2 = next(line for line in lines if f":{node2.port} " in line).split(" ", 1)[1]
        wrong.write_text(f"[{node1.host}]:{node1.port} {key_of_node2}\n")
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            async with connect(sandbox, node1, known_hosts=str(wrong)):
                pass

    with_sandbox(body)


def test_the_gateway_forwards_to_sandbox_nodes_only(with_sandbox):
    async def body(sandbox: Sandbox):
        gateway = sandbox.gateway
        async with connect(sandbox, gateway) as gw:
            async with connect(sandbox, sandbox.nodes[1], tunnel=gw) as conn:
                result = await conn.run("echo $SSHJOBS_SANDBOX_NODE")
            assert result.stdout == "node2\n"
            outsider = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
            async with outsider:
                port = outsider.sockets[0].getsockname()[1]
                with pytest.raises(asyncssh.ChannelOpenError, match="only forwards"):
                    await gw.open_connection("127.0.0.1", port)
        async with connect(sandbox, sandbox.nodes[0]) as node:
            with pytest.raises(asyncssh.ChannelOpenError, match="not the sandbox gateway"):
                await node.open_connection("127.0.0.1", sandbox.nodes[1].port)

    with_sandbox(body)


def test_closing_with_commands_running_reaps_them(tmp_path):
    """close() with live sessions: processes killed and reaped, no transport left to the GC."""

    async def main():
        sandbox = Sandbox(tmp_path, 1)
        await sandbox.start()
        conn = await connect(sandbox, sandbox.nodes[0])
        processes = [await conn.create_process("sleep 60 & echo $!; wait") for _ in range(3)]
        children = [int(await process.stdout.readline()) for process in processes]
        await sandbox.close()
        await conn.wait_closed()
        for child in children:
            await wait_pid_gone(child)
        return children

    children = asyncio.run(main())
    gc.collect()  # an unclosed subprocess transport would warn (an error here) now
    assert not any(alive(child) for child in children)
