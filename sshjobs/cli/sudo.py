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
from sshjobs.commands import Run, RunScript, RunString
from sshjobs.results import CommandResult

__all__ = ["SudoRun", "SudoRunScript", "SudoRunString", "run_as_root", "sudo_line"]

logger = logging.getLogger("sshjobs.cli.sudo")


def sudo_line(command: str) -> str:
    """``command`` run as root by a sudo that must not prompt."""
    return f"sudo -n -- sh -c {shlex.quote(command)}"


async def run_as_root(
    node: Any,
    line: str,
    password: Secret | None,
    *,
    label: str,
    timeout: float | None,
    stdin: Any = None,
) -> CommandResult:
    """Execute the shell command ``line`` on ``node`` through sudo (see the module docstring);
    ``stdin``: an input reader for the command's standard input (sudo -A leaves it alone)."""
    extra = {"stdin": stdin} if stdin is not None else {}
    if password is None:
        result: CommandResult = await node.execute(
            sudo_line(line), label=label, timeout=timeout, **extra
        )
        return result
    home = await node.remote_home()
    helper = f"{home.rstrip('/')}/.sshjobs-askpass-{secrets.token_hex(8)}"
    body = "#!/bin/sh\nrm -f \"$0\"\nprintf '%s\\n' " + shlex.quote(password.reveal()) + "\n"
    quoted = shlex.quote(helper)
    command = (
        f"SUDO_ASKPASS={quoted} sudo -A -- sh -c {shlex.quote(line)}; s=$?; rm -f {quoted}; exit $s"
    )
    await node.put_string_script(body, helper, mode=0o700)
    try:
        result = await node.execute(command, label=label, timeout=timeout, **extra)
        return result
    finally:
        await _remove_quietly(node, helper)


class SudoRun(Run):
    """A :class:`~sshjobs.commands.Run` of ``command`` through sudo (label: the command)."""

    def __init__(self, command: str, password: Secret | None = None, **kwds: Any) -> None:
        super().__init__(sudo_line(command), label=f"sudo {command}", **kwds)
        self.user_command = command
        self._password = password

    def __repr__(self) -> str:
        return f"<SudoRun: {self.user_command}>"

    async def co_execute(self, node: Any) -> CommandResult:
        result = await run_as_root(
            node,
            self.user_command,
            self._password,
            label=self.get_label_line(),
            timeout=self.timeout,
            stdin=self.stdin,
        )
        return self._finish(result)


class _SudoScript:
    """Run a staged script (RunScript / RunString) through sudo; staging as the login user."""

    args: tuple[Any, ...]
    includes: list[str]
    keep: bool
    timeout: float | None
    stdin: Any

    def __init__(self, *args: Any, password: Secret | None = None, **kwds: Any) -> None:
        super().__init__(*args, **kwds)  # the RunScript / RunString arguments
        self._password = password

    async def co_execute(self, node: Any) -> CommandResult:
        self.check_local()  # type: ignore[attr-defined]
        directory, path = await node.stage_script(
            self._name(),  # type: ignore[attr-defined]
            self._body(),  # type: ignore[attr-defined]
            self.includes,
        )
        try:
            line = " ".join([shlex.quote(path), *map(str, self.args)])
            result = await run_as_root(
                node,
                line,
                self._password,
                label=self.get_label_line(),  # type: ignore[attr-defined]
                timeout=self.timeout,
                stdin=self.stdin,
            )
        finally:
            if not self.keep:
                await node.unstage_script(directory)
        finished: CommandResult = self._finish(result)  # type: ignore[attr-defined]
        return finished


class SudoRunScript(_SudoScript, RunScript):
    """:class:`~sshjobs.commands.RunScript` whose script runs as root through sudo:
    ``SudoRunScript(local_script, *args, password=None, **RunScript_keywords)``."""


class SudoRunString(_SudoScript, RunString):
    """:class:`~sshjobs.commands.RunString` whose script runs as root through sudo:
    ``SudoRunString(body, *args, password=None, **RunString_keywords)``."""


async def _remove_quietly(node: Any, path: str) -> None:
    """Remove the helper if it is still there (the command was killed, the link lost...)."""
    try:
        sftp = await node.sftp_lazy()
        if await sftp.exists(path):
            await sftp.remove(path)
    except Exception as exc:  # best effort: the helper also deletes itself when used
        logger.debug(
            "%s: could not remove %s: %s", getattr(node, "hostname", "?"), path, type(exc).__name__
        )
