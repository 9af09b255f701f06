"""Commands an SshJob runs on its node: ``Run``, ``RunScript``, ``RunString`` (apssh-compatible).

Each command's :meth:`~AbstractCommand.co_execute` returns a
:class:`~sshjobs.results.CommandResult`; success means exit status 0 or a value listed in
``allowed_exits`` (exit codes and/or signal names such as ``"TERM"``).

**Argument joining.** As in apssh, ``Run(*argv)`` joins its arguments with spaces and the remote
shell parses the result: ``Run("echo", "a;b")`` runs ``echo a`` then ``b``. That is handy for
shell syntax (pipes, redirections, variables) and is kept for compatibility. For literal
arguments pass ``quote=True``: each argument is then quoted with :func:`shlex.quote`, so
``Run("touch", "my file", quote=True)`` creates one file named ``my file``. The same holds for
script arguments of ``RunScript``/``RunString``.

**Standard input.** Commands read an empty stdin (as ``ssh -n``) unless given ``stdin=``: a
:class:`~sshjobs.sharedinput.SharedInput` (the same input streamed to every command built with
it, each at its own pace; build the commands before running them), a reader of one, or bytes.

Scripts are uploaded into a private remote directory (mode 0700, ``~/.sshjobs-<random>``)
with their ``includes`` alongside, run from the home directory, and the directory is removed
afterwards unless ``keep=True``.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from .capture import Capture
from .errors import LocalFileError
from .results import CommandResult
from .sharedinput import InputReader, SharedInput

__all__ = ["AbstractCommand", "Run", "RunScript", "RunString", "StrLikeMixin"]

logger = logging.getLogger("sshjobs.commands")


def _allowed(result: CommandResult, allowed_exits: set[int | str]) -> bool:
    if result.exit_status is not None:
        return result.exit_status == 0 or result.exit_status in allowed_exits
    return result.signal is not None and result.signal in allowed_exits


class AbstractCommand:
    """What every command has: a label, allowed exits, an optional timeout and capture.

    ``timeout``: seconds after which the command is killed (default: the node's
    ``command_timeout``). ``capture``: a :class:`~sshjobs.capture.Capture` receiving stdout.
    ``keep_output``: keep stdout bytes in the result (without showing them).
    ``stdin``: what the command reads on its standard input (see the module docstring).
    ``output_grace``: seconds to wait for the end of the output once the command has exited
    (a background process it started may hold it open); default: the node's.
    """

    node: Any = None
    stdin: InputReader | None = None

    def __init__(
        self,
        *,
        label: str | None = None,
        allowed_exits: Iterable[int | str] | None = None,
        timeout: float | None = None,
        capture: Capture | None = None,
        keep_output: bool = False,
        verbose: bool = False,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> None:
        self.stdin = _input_reader(stdin)
        self.label = label
        self.output_grace = output_grace
        self.allowed_exits = set(allowed_exits or ())
        self.timeout = timeout
        self.capture = capture
        self.keep_output = keep_output
        self.verbose = verbose

    # labels (apssh)
    def label_line(self) -> str:
        return f"NO-LABEL-LINE (class {type(self).__name__})"

    def get_label_line(self) -> str:
        return self.label if self.label is not None else self.label_line()

    def check_local(self) -> None:
        """Raise :class:`LocalFileError` if a local file this command needs is missing."""

    async def co_execute(self, node: Any) -> CommandResult:
        raise NotImplementedError

    def release_input(self) -> None:
        """The command will not read its ``stdin`` (it ended, or will never run): let the other
        readers of a shared input go on without it."""
        if self.stdin is not None:
            self.stdin.close()

    def _stdin_kwds(self) -> dict[str, Any]:
        return {"stdin": self.stdin} if self.stdin is not None else {}

    # apssh entry points: the exit status (or signal name)
    async def co_run_remote(self, node: Any) -> int | str | None:
        return (await self.co_execute(node)).returned

    async def co_run_local(self, node: Any) -> int | str | None:
        return (await self.co_execute(node)).returned

    def _grace(self) -> dict[str, Any]:
        """``output_grace`` for ``node.execute`` when this command sets one."""
        return {} if self.output_grace is None else {"output_grace": self.output_grace}

    def _finish(self, result: CommandResult) -> CommandResult:
        result.allowed = result.error is None and _allowed(result, self.allowed_exits)
        if self.capture is not None and result.stdout is not None and result.error is None:
            self.capture.store(result.stdout)
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.get_label_line()}>"


def _input_reader(stdin: Any) -> InputReader | None:
    """The reader of a command's ``stdin=`` argument (a new shared input for bytes)."""
    if stdin is None or isinstance(stdin, InputReader):
        return stdin
    if isinstance(stdin, (bytes, bytearray)):
        stdin = SharedInput(bytes(stdin))
    if isinstance(stdin, SharedInput):
        return stdin.reader()
    raise TypeError(
        f"stdin must be a SharedInput, an InputReader or bytes, not {type(stdin).__name__}"
    )


def _join(argv: Iterable[Any], quote: bool) -> str:
    words = [str(arg) for arg in argv]  # str() renders Deferred values now
    return " ".join(shlex.quote(w) for w in words) if quote else " ".join(words)


class _HasCommandLine(Protocol):
    def command_line(self) -> str: ...


class StrLikeMixin:
    """Lets a Run stand in for its command string (apssh)."""

    def __str__(self: _HasCommandLine) -> str:
        return self.command_line()


class Run(StrLikeMixin, AbstractCommand):
    """Run a command line on the node: ``Run("ls", "-l", "/tmp")``.

    Arguments are joined with spaces for the remote shell (apssh behaviour); ``quote=True``
    quotes each one instead (literal arguments). Items may be ``Deferred``.
    """

    def __init__(
        self,
        *argv: Any,
        verbose: bool = False,
        x11: bool = False,
        ignore_outputs: bool = False,
        label: str | None = None,
        allowed_exits: Iterable[int | str] | None = None,
        capture: Capture | None = None,
        timeout: float | None = None,
        quote: bool = False,
        keep_output: bool = False,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> None:
        if not argv:
            raise ValueError("Run needs a command")
        super().__init__(
            label=label,
            allowed_exits=allowed_exits,
            timeout=timeout,
            capture=capture,
            keep_output=keep_output,
            verbose=verbose,
            stdin=stdin,
            output_grace=output_grace,
        )
        self.argv = argv
        self.x11 = x11
        self.ignore_outputs = ignore_outputs
        self.quote = quote

    def command_line(self) -> str:
        return _join(self.argv, self.quote)

    def label_line(self) -> str:
        return self.command_line()

    async def co_execute(self, node: Any) -> CommandResult:
        command = self.command_line()
        if self.ignore_outputs and getattr(node, "is_local", False):
            command = f"{command} >/dev/null 2>&1"
        result = await node.execute(
            command,
            label=self.get_label_line(),
            capture=self.capture is not None or self.keep_output,
            timeout=self.timeout,
            x11=self.x11,
            **self._stdin_kwds(),
            **self._grace(),
        )
        return self._finish(result)


class _ScriptCommand(AbstractCommand):
    """Shared by RunScript and RunString: stage, run, clean up."""

    def __init__(
        self,
        args: tuple[Any, ...],
        *,
        includes: Iterable[str] | None,
        keep: bool,
        quote: bool,
        x11: bool,
        **kwds: Any,
    ) -> None:
        super().__init__(**kwds)
        self.args = args
        self.includes = [str(Path(p).expanduser()) for p in (includes or [])]
        self.keep = keep
        self.quote = quote
        self.x11 = x11

    def check_local(self) -> None:
        for include in self.includes:
            if not os.path.exists(include):
                raise LocalFileError(
                    f"include file {include} not found (needed by {self.get_label_line()})"
                )

    def _body(self) -> bytes:
        raise NotImplementedError

    def _name(self) -> str:
        raise NotImplementedError

    async def co_execute(self, node: Any) -> CommandResult:
        self.check_local()
        body = self._body()
        directory, path = await node.stage_script(self._name(), body, self.includes)
        try:
            runner = "bash -x " if self.verbose else ""
            args = _join(self.args, self.quote)
            command = f"{runner}{shlex.quote(path)}" + (f" {args}" if args else "")
            result = await node.execute(
                command,
                label=self.get_label_line(),
                capture=self.capture is not None or self.keep_output,
                timeout=self.timeout,
                x11=self.x11,
                **self._stdin_kwds(),
                **self._grace(),
            )
        finally:
            if not self.keep:
                await node.unstage_script(directory)
        return self._finish(result)


class RunScript(_ScriptCommand):
    """Push a local script (and ``includes``) to the node and run it with ``args``."""

    def __init__(
        self,
        local_script: str | os.PathLike[str],
        *args: Any,
        label: str | None = None,
        allowed_exits: Iterable[int | str] | None = None,
        includes: Iterable[str] | None = None,
        x11: bool = False,
        verbose: bool = False,
        capture: Capture | None = None,
        timeout: float | None = None,
        keep: bool = False,
        quote: bool = False,
        keep_output: bool = False,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> None:
        super().__init__(
            args,
            includes=includes,
            keep=keep,
            quote=quote,
            x11=x11,
            label=label,
            allowed_exits=allowed_exits,
            timeout=timeout,
            capture=capture,
            keep_output=keep_output,
            verbose=verbose,
            stdin=stdin,
            output_grace=output_grace,
        )
        self.local_script = str(Path(local_script).expanduser())

    def check_local(self) -> None:
        if not os.path.isfile(self.local_script):
            raise LocalFileError(f"local script {self.local_script} not found")
        super().check_local()

    def _name(self) -> str:
        return os.path.basename(self.local_script)

    def _body(self) -> bytes:
        try:
            return Path(self.local_script).read_bytes()
        except OSError as exc:
            raise LocalFileError(
                f"cannot read local script {self.local_script}: {exc.strerror}"
            ) from exc

    def label_line(self) -> str:
        return " ".join(["RunScript:", self._name(), *map(str, self.args)])


class RunString(_ScriptCommand):
    """Run a script given as text (``script_body``) with ``args``."""

    def __init__(
        self,
        script_body: str | bytes,
        *args: Any,
        label: str | None = None,
        allowed_exits: Iterable[int | str] | None = None,
        includes: Iterable[str] | None = None,
        x11: bool = False,
        remote_name: str | None = None,
        verbose: bool = False,
        capture: Capture | None = None,
        timeout: float | None = None,
        keep: bool = False,
        quote: bool = False,
        keep_output: bool = False,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> None:
        super().__init__(
            args,
            includes=includes,
            keep=keep,
            quote=quote,
            x11=x11,
            label=label,
            allowed_exits=allowed_exits,
            timeout=timeout,
            capture=capture,
            keep_output=keep_output,
            verbose=verbose,
            stdin=stdin,
            output_grace=output_grace,
        )
        self.script_body = script_body
        self.remote_name = remote_name

    def _name(self) -> str:
        return os.path.basename(self.remote_name) if self.remote_name else "script"

    def _body(self) -> bytes:
        body = self.script_body
        return body.encode() if isinstance(body, str) else body

    def label_line(self) -> str:
        if self.remote_name:
            return " ".join(["RunString:", self.remote_name, *map(str, self.args)])
        text = (
            self.script_body.decode("utf-8", "replace")
            if isinstance(self.script_body, bytes)
            else self.script_body
        )
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                return "RunString: " + (line if len(line) <= 15 else line[:12] + "...")
        return "RunString: (empty)"
