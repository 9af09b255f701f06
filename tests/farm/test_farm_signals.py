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
from fixtures.waiting import wait_until_async

REFUSAL = "session signalling requires privilege separation"


async def send_term(farm, host, user):
    """Send TERM to a remote ``sleep``; return the exit signal, or None if it was refused."""
    log = host.dir / "sshd.log"
    refusals = log.read_text().count(REFUSAL)
    async with asyncssh.connect(**farm.connect_options(host, user)) as conn:
        process = await conn.create_process("echo started; sleep 30; echo not-killed")
        assert await process.stdout.readline() == "started\n"
        process.send_signal("TERM")
        waiting = asyncio.ensure_future(process.wait())

        def fate() -> str | None:
            if waiting.done():
                return "delivered"
            return "refused" if log.read_text().count(REFUSAL) > refusals else None

        seen = await wait_until_async(fate, timeout=15, message="the signal delivered or refused")
        if seen == "refused":
            waiting.cancel()
            process.close()
            return None
        result = waiting.result()
        return result.exit_signal[0] if result.exit_signal else result.exit_status


def test_signal_reaches_unprivileged_users_command(farm):
    assert asyncio.run(send_term(farm, farm.direct[0], farm.user)) == "TERM"


def test_signal_is_ignored_for_root(farm):
    assert asyncio.run(send_term(farm, farm.direct[0], "root")) is None
