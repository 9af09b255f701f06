"""SshJob: an asynciojobs job running a list of commands, in order, on one node (apssh-compatible).

``command=`` / ``commands=`` (synonyms) accept: a command object, a list of them, a string or
``Deferred`` (one ``Run``), or a list of strings (one ``Run`` whose argv they are - apssh's
rule). Every command leaves a :class:`~sshjobs.results.CommandResult` in ``job.results``.

A command fails when its exit status is neither 0 nor in its ``allowed_exits``. In a critical
job (the default, as in apssh) the first failure raises
:class:`~sshjobs.errors.CommandFailedError` and the remaining commands are skipped; in a
non-critical job the failure is recorded and the next command runs, and ``result()`` is the last
failing exit status (0 when all went well). Connection and transfer errors always stop the job.

The job is a *user* of its node from its start until its ``co_shutdown``: when the scheduler
shuts down and the node has no user left, its connection closes (``keep_connection=True``
leaves it open for the caller to close).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from asynciojobs import AbstractJob

from .capture import Deferred
from .commands import AbstractCommand, Run
from .errors import CommandFailedError, CommandTimeoutError, SshJobsError
from .results import CommandResult
from .tail import OUTPUT_TAIL

__all__ = ["SshJob"]

logger = logging.getLogger("sshjobs.job")

#: output lines kept per job for the live monitor and the run report
TAIL_LINES = 5


def _normalize(spec: Any) -> list[AbstractCommand]:
    if spec is None:
        raise ValueError("SshJob needs command= or commands=")
    if isinstance(spec, (str, Deferred)):
        return [Run(spec)]
    if isinstance(spec, AbstractCommand):
        return [spec]
    if isinstance(spec, (list, tuple)):
        items = [item for item in spec if item is not None]
        if not items:
            raise ValueError("SshJob: empty list of commands")
        if all(isinstance(item, (str, Deferred)) for item in items):
            return [Run(*items)]
        commands: list[AbstractCommand] = []
        for item in items:
            if isinstance(item, (str, Deferred)):
                commands.append(Run(item))
            elif isinstance(item, AbstractCommand):
                commands.append(item)
            else:
                raise TypeError(f"SshJob: {item!r} is not a command (Run, RunScript, ...)")
        return commands
    raise TypeError(
        f"SshJob: unexpected commands {spec!r}: expected a command, a string, or a list of them"
    )


class SshJob(AbstractJob):
    """Run ``commands`` on ``node`` (an SshNode or a LocalNode)."""

    def __init__(
        self,
        node: Any,
        *,
        command: Any = None,
        commands: Any = None,
        keep_connection: bool = False,
        verbose: bool | None = None,
        forever: bool | None = None,
        critical: bool | None = None,
        **kwds: Any,
    ) -> None:
        if not (hasattr(node, "execute") and hasattr(node, "add_user")):
            raise ValueError(f"SshJob: node must be an SshNode or a LocalNode, not {node!r}")
        if command is not None and commands is not None:
            logger.warning("SshJob: both command= and commands= given; using commands=")
        self.node = node
        self.commands = _normalize(commands if commands is not None else command)
        for cmd in self.commands:
            cmd.node = node
            if verbose is not None:
                cmd.verbose = verbose
        self.keep_connection = keep_connection
        self.verbose = verbose
        self.results: list[CommandResult] = []
        self._sshjobs_shut = False
        #: the last output lines of the current (or last) run, for monitors and reports
        self._sshjobs_tail: deque[bytes | str] = deque(maxlen=TAIL_LINES)
        if critical is None:
            # a value a subclass set before us wins; else apssh's default for SshJob: True
            existing = getattr(self, "critical", None)
            critical = True if existing is None else existing
        super().__init__(forever=forever, critical=critical, **kwds)

    # -- running -------------------------------------------------------------------------------
    async def co_run(self) -> Any:
        self._sshjobs_tail.clear()
        token = OUTPUT_TAIL.set(self._sshjobs_tail)
        try:
            return await self._run_commands()
        finally:
            OUTPUT_TAIL.reset(token)

    async def _run_commands(self) -> Any:
        self.results = []
        self._sshjobs_shut = False
        for cmd in self.commands:  # missing local files: fail before connecting
            cmd.check_local()
        self.node.add_user(self)
        critical = self.is_critical()
        try:
            return await self._each_command(critical)
        finally:  # a command that ended or never ran holds no shared stdin back
            for cmd in self.commands:
                release = getattr(cmd, "release_input", None)
                if release is not None:
                    release()

    async def _each_command(self, critical: bool) -> Any:
        outcome: Any = 0
        for index, cmd in enumerate(self.commands):
            label = cmd.get_label_line()
            try:
                result = await cmd.co_execute(self.node)
            except SshJobsError as exc:
                self.results.append(
                    CommandResult(
                        host=self.node.hostname,
                        command=label,
                        label=label,
                        end=time.time(),
                        error=exc,
                    )
                )
                raise
            self.results.append(result)
            if result.ok:
                continue
            error = result.error or CommandFailedError(
                f"command {label!r} returned {result.returned} on node {self.node}",
                host=self.node.hostname,
                command=result.command,
                exit_status=result.exit_status,
                signal=result.signal,
                stderr_tail=result.stderr_tail.decode("utf-8", "replace"),
            )
            if critical:
                raise error
            logger.info("%s: non-critical failure of command %d: %s", self.node, index, error)
            returned = result.returned
            outcome = returned if returned is not None else "TIMEOUT"
        return outcome

    async def co_shutdown(self) -> None:
        self._sshjobs_shut = True
        if self.keep_connection:  # keep the connections open, but do not hold on to them
            node = self.node
            while node is not None:
                release = getattr(node, "release_user", None)
                if release is not None:
                    release(self)
                node = getattr(node, "gateway", None)
            return
        self._hand_over()
        # a hand-over may have made us a user of a gateway of our node too: release them all,
        # our node first (it closes, then releases its gateway), gateways after
        node = self.node
        while node is not None:
            await node.remove_user(self)
            node = getattr(node, "gateway", None)

    def _hand_over(self) -> None:
        """Nested scheduler finishing while an outer one goes on: the outer jobs still to
        run on our node (or on a gateway of it) become its users now, so that the connection
        stays open for them instead of closing and reopening."""
        parent = getattr(self, "_aj_parent", None)
        root = parent
        while root is not None and getattr(root, "_aj_parent", None) is not None:
            root = root._aj_parent
        if root is None or root is parent or not hasattr(root, "iterate_jobs"):
            return
        chain = []
        node = self.node
        while node is not None:
            chain.append(node)
            node = getattr(node, "gateway", None)
        for job in root.iterate_jobs():
            if (
                not isinstance(job, SshJob)
                or job is self
                or job._sshjobs_shut
                or job.is_done()
                or getattr(job, "is_skipped", lambda: False)()
            ):
                continue
            node = job.node
            while node is not None:
                if node in chain:
                    node.add_user(job)
                    break
                node = getattr(node, "gateway", None)

    async def close(self) -> None:
        """apssh: close the node's connection unless ``keep_connection``."""
        if not self.keep_connection:
            await self.node.close()

    # -- display -------------------------------------------------------------------------------
    def text_label(self) -> str:
        first = self.commands[0].get_label_line()
        more = len(self.commands) - 1
        return first + (f" .. + {more}" if more else "")

    def details(self) -> str:
        node = self.node
        lines = [node.endpoint() if hasattr(node, "endpoint") else str(node)]
        lines += [label for label in (c.get_label_line() for c in self.commands) if label]
        return "\n".join(lines)

    def graph_label(self) -> str:
        return self.details()

    # -- monitor protocol (asynciojobs.record): what the live monitor and the report show ------
    def monitor_group(self) -> str:
        """The node this job runs on: ``host``, with ``:port`` when not 22 (sandbox nodes
        share one address), or the node's ``monitor_name`` when it has one."""
        node = self.node
        name = getattr(node, "monitor_name", None)
        if name:
            return str(name)
        port = getattr(node, "port", None)
        return f"{node.hostname}:{port}" if port and port != 22 else str(node.hostname)

    def monitor_details(self, tail: int = TAIL_LINES) -> dict[str, Any]:
        """The last ``tail`` output lines (decoded), the outcome of the failed command if any
        (``"failed": True`` when the job did not raise but a command failed)."""
        details: dict[str, Any] = {}
        if tail:
            lines = list(self._sshjobs_tail)[-tail:]
            details["tail"] = [
                (line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)).rstrip(
                    "\r\n"
                )
                for line in lines
            ]
        failed = self.failed_results()
        if failed:
            details["status"] = _describe_failure(failed[-1])
            details["failed"] = True
        elif self.results and self.is_done():
            details["status"] = f"{len(self.results)} command(s) ok"
        return details

    def failed_results(self) -> list[CommandResult]:
        """The results of the commands that did not succeed."""
        return [r for r in self.results if not r.ok]

    def repr_result(self) -> str:
        """As for any job (``[[ -> 3]]``), plus, for a job that ended without raising although
        commands failed (a non-critical job: its result is an exit status like a success's),
        what failed: ``[[ -> 3]] !! exit 3 on node3: make test``."""
        text = super().repr_result()
        if not self.is_done() or self.raised_exception() is not None:
            return text
        failed = self.failed_results()
        if not failed:
            return text
        note = _describe_failure(failed[-1])
        if len(failed) > 1:
            note = f"{len(failed)} commands failed, last: {note}"
        return f"{text} !! {note}"


def _describe_failure(result: CommandResult, width: int = 40) -> str:
    """``exit 3 on node3: make test`` / ``signal KILL on ...`` / ``timeout on ...``."""
    if isinstance(result.error, CommandTimeoutError):
        what = "timeout"
    elif result.exit_status is not None:
        what = f"exit {result.exit_status}"
    elif result.signal is not None:
        what = f"signal {result.signal}"
    elif result.error is not None:
        what = type(result.error).__name__
    else:
        what = "failed"
    label = " ".join((result.label or result.command).split())
    if len(label) > width:
        label = label[: width - 3] + "..."
    return f"{what} on {result.host}: {label}"
