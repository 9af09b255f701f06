"""What the farm's sshd (OpenSSH, privilege separation on, as on real hosts) does with SSH
"signal" channel requests — a fact the library's remote-kill code depends on (DESIGN §4):

- for an unprivileged user the signal reaches the remote command;
- for root, OpenSSH (9.x) ignores it and logs "session signalling requires privilege
  separation" (root sessions are served by the monitor process itself), so killing a root
  command needs another way (closing the channel, or a kill of the remote process group).
"""

from __future__ import annotations

import asyncio

import asyncssh


async def send_term(farm, host, user):
    async with asyncssh.connect(**farm.connect_options(host, user)) as conn:
        process = await conn.create_process("echo started; sleep 30; echo not-killed")
        assert await process.stdout.readline() == "started\n"
        process.send_signal("TERM")
        try:
            result = await asyncio.wait_for(process.wait(), 3)
        except asyncio.TimeoutError:
            process.close()
            return None
        return result.exit_signal[0] if result.exit_signal else result.exit_status


def test_signal_reaches_unprivileged_users_command(farm):
    assert asyncio.run(send_term(farm, farm.direct[0], farm.user)) == "TERM"


def test_signal_is_ignored_for_root(farm):
    host = farm.direct[0]
    assert asyncio.run(send_term(farm, host, "root")) is None
    log = (host.dir / "sshd.log").read_text()
    assert "session signalling requires privilege separation" in log
