"""``--sudo`` / ``--ask-sudo-pass``: running the remote command line through sudo.

Without a password, ``sudo -n`` (never prompt: fail at once rather than hang). With the password
asked once on the terminal, each host gets it through a tiny askpass helper uploaded over SFTP
into the user's home (mode 0700) which deletes itself when sudo runs it, and is removed after
the command in any case. The password never appears on a command line (``ps``), in a log, in a
label or in an error message: the helper prints it with the shell's builtin ``printf``.
"""

from __future__ import annotations

import logging
import secrets
import shlex
from typing import Any

from sshjobs.cli.options import Secret
from sshjobs.commands import Run
from sshjobs.results import CommandResult

__all__ = ["SudoRun", "sudo_line"]

logger = logging.getLogger("sshjobs.cli.sudo")


def sudo_line(command: str) -> str:
    """``command`` run as root by a sudo that must not prompt."""
    return f"sudo -n -- sh -c {shlex.quote(command)}"


class SudoRun(Run):
    """A :class:`~sshjobs.commands.Run` of ``command`` through sudo (label: the command)."""

    def __init__(self, command: str, password: Secret | None = None, **kwds: Any) -> None:
        super().__init__(sudo_line(command), label=f"sudo {command}", **kwds)
        self.user_command = command
        self._password = password

    def __repr__(self) -> str:
        return f"<SudoRun: {self.user_command}>"

    async def co_execute(self, node: Any) -> CommandResult:
        if self._password is None:
            return await super().co_execute(node)
        home = await node.remote_home()
        helper = f"{home.rstrip('/')}/.sshjobs-askpass-{secrets.token_hex(8)}"
        body = ('#!/bin/sh\nrm -f "$0"\nprintf \'%s\\n\' '
                + shlex.quote(self._password.reveal()) + "\n")
        quoted = shlex.quote(helper)
        command = (f"SUDO_ASKPASS={quoted} sudo -A -- sh -c {shlex.quote(self.user_command)}; "
                   f"s=$?; rm -f {quoted}; exit $s")
        await node.put_string_script(body, helper, mode=0o700)
        try:
            result = await node.execute(command, label=self.get_label_line(),
                                        timeout=self.timeout)
        finally:
            await _remove_quietly(node, helper)
        return self._finish(result)


async def _remove_quietly(node: Any, path: str) -> None:
    """Remove the helper if it is still there (the command was killed, the link lost...)."""
    try:
        sftp = await node.sftp_lazy()
        if await sftp.exists(path):
            await sftp.remove(path)
    except Exception as exc:  # best effort: the helper also deletes itself when used
        logger.debug("%s: could not remove %s: %s", getattr(node, "hostname", "?"), path,
                     type(exc).__name__)
