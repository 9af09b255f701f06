"""Running one step (command, script, push or pull) on every target, for the subcommands.

Builds one :class:`~sshjobs.SshNode` per target and one per distinct gateway (so every host
behind a gateway shares its single connection), one non-critical :class:`~sshjobs.SshJob` per
target, and runs them in one scheduler with the window and deadline of the command line. The
scheduler's job-event stream drives the reporters (progress, files, JSON...). Ctrl-C (SIGINT)
or SIGTERM cancels the run: the scheduler shuts down, which kills the remote commands and
closes the connections, and the run ends with exit code 130.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

import click
from asyncssh import EXTENDED_DATA_STDERR

from asynciojobs import Scheduler
from sshjobs.cli.exit import ExitCode, exit_code_for, stopped_by
from sshjobs.cli.options import Settings
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.path_fields import host_fields, login_of
from sshjobs.cli.reporters import Reporter
from sshjobs.errors import SshJobsError
from sshjobs.formatters import Formatter
from sshjobs.job import SshJob
from sshjobs.node import SshNode
from sshjobs.targets import Target

#: bound on the scheduler's shutdown (its jobs close their nodes), instead of the library's 1 s
#: (upstream-compatible): a stopped run's remote kills go through a new session on each
#: connection, which takes longer than 1 s on a loaded machine - cut short, the connection was
#: aborted before the kill landed, and the command's next step (``...; sleep``) ran on.
#: Each step of a node's close is bounded itself, so this is only a last resort.
SHUTDOWN_TIMEOUT = 60.0

__all__ = [
    "CommandFactory",
    "OutcomeFormatter",
    "display_names",
    "run_interruptibly",
    "run_on_targets",
    "settle_from_job",
]

logger = logging.getLogger("sshjobs.cli.engine")

#: builds the command objects of one target (a Run, a RunScript, a Push...)
CommandFactory = Callable[[Target, HostOutcome], list[Any]]


class OutcomeFormatter(Formatter):
    """Receives one target's output lines (bytes) and hands them to the reporters."""

    def __init__(self, outcome: HostOutcome, reporter: Reporter, *, verbose: bool) -> None:
        super().__init__("{host}: {line}", verbose=verbose)
        self.outcome = outcome
        self.reporter = reporter

    def line(self, line: bytes | str, datatype: int | None, hostname: str) -> None:
        data = line.encode() if isinstance(line, str) else bytes(line)
        stream = "stderr" if datatype == EXTENDED_DATA_STDERR else "stdout"
        if self.outcome.keep_output:
            (self.outcome.stderr if stream == "stderr" else self.outcome.stdout).extend(data)
        self.reporter.line(self.outcome, stream, data)

    def stderr_line(self, line: str, hostname: str) -> None:
        """Verbose events (``-v``), through the console so the progress line stays clean."""
        if not self.verbose:
            return
        console = getattr(self.reporter, "console", None)
        text = f"{self.outcome.name}: {line.rstrip()}\n"
        if console is not None:
            console.write_err(text)
        else:
            super().stderr_line(line, hostname)

    def connection_lost(
        self, hostname: str, exc: BaseException | None, username: str | None = None
    ) -> None:
        if self.verbose:  # failures are reported once, by the reporters, not here
            super().connection_lost(hostname, exc, username)


def display_names(targets: list[Target]) -> list[str]:
    """A unique short name per target: ``host`` (``host:port``); on clashes ``user@host``, and
    the whole chain ``gw->user@host`` when the same address sits behind different gateways
    (testbeds reuse private addresses)."""

    def clashing(names: list[str]) -> set[str]:
        seen: dict[str, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        return {name for name, count in seen.items() if count > 1}

    names = [target.name for target in targets]
    clashes = clashing(names)
    names = [
        f"{t.user}@{n}" if n in clashes and t.user else n
        for t, n in zip(targets, names, strict=False)
    ]
    clashes = clashing(names)
    return [str(t) if n in clashes else n for t, n in zip(targets, names, strict=False)]


class _Nodes:
    """SshNodes of a run: one per target and one per distinct gateway chain.

    A host whose target, ``-l``, ``-O User`` and ssh config name no user is reached as the
    local user, as ssh does (the library's own default stays apssh's root)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gateways: dict[str, SshNode] = {}
        self.config = settings.config_paths()

    def _kwargs(self) -> dict[str, Any]:
        settings = self.settings
        kwargs: dict[str, Any] = {
            "timeout": settings.connect_timeout,
            "command_timeout": settings.timeout,
            "host_keys": settings.host_keys,
            "config": settings.config if settings.config else (),
            "ssh_options": settings.ssh_options,
        }
        if settings.keys:
            kwargs["keys"] = settings.keys
        if settings.passphrase is not None:
            kwargs["passphrase"] = settings.passphrase
        if settings.known_hosts:
            kwargs["known_hosts"] = [settings.known_hosts]
        if settings.output_grace is not None:
            kwargs["output_grace"] = settings.output_grace
        return kwargs

    def gateway(self, target: Target | None) -> SshNode | None:
        if target is None:
            return None
        key = str(target)
        node = self.gateways.get(key)
        if node is None:
            node = SshNode(
                target.host,
                username=login_of(target, self.config),
                port=target.port,
                gateway=self.gateway(target.gateway),
                formatter=Formatter(verbose=self.settings.verbose),
                **self._kwargs(),
            )
            node.options.resolved  # noqa: B018  a bad key or setting: bad input, before the run
            self.gateways[key] = node
        return node

    def node(self, target: Target, formatter: Formatter) -> SshNode:
        return SshNode(
            target.host,
            username=login_of(target, self.config),
            port=target.port,
            gateway=self.gateway(target.gateway),
            formatter=formatter,
            **self._kwargs(),
        )


def settle_from_job(outcome: HostOutcome, job: SshJob, exception: BaseException | None) -> None:
    """Fill the outcome from the job's structured results (or the exception that ended it)."""
    results = list(getattr(job, "results", None) or [])
    failed = next((r for r in results if not r.ok), None)
    if exception is not None and not isinstance(exception, asyncio.CancelledError):
        outcome.fail(exception)
    elif failed is not None and failed.error is not None:
        outcome.fail(failed.error)
    elif failed is not None:
        outcome.returned(failed.exit_status, failed.signal)
    elif exception is None:
        outcome.succeed()


def run_interruptibly(
    scheduler: Any, state: dict[str, bool], *, console: Any = None
) -> bool | None:
    """Run ``scheduler`` to its end in a new event loop; the result of its ``co_run()``, or
    None when the run was stopped.

    SIGINT and SIGTERM (and, given a ``console``, its standard output being closed) cancel the
    run: the scheduler's shutdown kills the remote commands and closes the connections, and
    ``state["interrupted"]`` (or ``state["output_closed"]``) says why the run ended. The
    caller's signal handlers are given back afterwards (in-process use).
    """
    try:
        return asyncio.run(_co_run_interruptibly(scheduler, state, console))
    except KeyboardInterrupt:  # a second Ctrl-C during the shutdown
        state["interrupted"] = True
        return None


async def _co_run_interruptibly(
    scheduler: Any, state: dict[str, bool], console: Any
) -> bool | None:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def interrupt(signum: int) -> None:
        if state.get("interrupted"):  # a second Ctrl-C must not cancel the teardown itself
            logger.debug("signal %d: already stopping the run", signum)
            return
        logger.debug("signal %d: stopping the run", signum)
        state["interrupted"] = True
        state["sigterm"] = signum == signal.SIGTERM
        if task is not None:
            task.cancel()

    def output_closed() -> None:
        logger.debug("standard output closed: stopping the run")
        if not state.get("output_closed"):
            state["output_closed"] = True
            if task is not None:
                task.cancel()

    if console is not None:
        console.on_stdout_closed = output_closed
    installed: list[tuple[signal.Signals, Any]] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous = signal.getsignal(signum)
            loop.add_signal_handler(signum, interrupt, signum)
            installed.append((signum, previous))
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            pass
    try:
        return bool(await scheduler.co_run())
    except asyncio.CancelledError:
        if not (state.get("interrupted") or state.get("output_closed")):
            raise
        if task is not None:
            task.uncancel()  # we asked for it: the run ends normally, with exit code 130/141
        return None
    finally:
        for signum, previous in installed:  # give the caller's handlers back (in-process use)
            loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)


def run_on_targets(
    settings: Settings,
    make_commands: CommandFactory,
    reporter: Reporter,
    outcomes: list[HostOutcome],
    observers: Any = None,
) -> ExitCode:
    """Run the commands ``make_commands`` builds for each target; report; return the exit code.

    ``outcomes`` holds one (fresh) :class:`HostOutcome` per target, in target order;
    ``observers`` (:class:`~sshjobs.cli.observe.Observers`): monitor, report, events file.
    """
    jobs = _jobs_for(settings, make_commands, reporter, outcomes)
    scheduler = Scheduler(
        *jobs,
        jobs_window=settings.window,
        timeout=settings.deadline,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    scheduler.subscribe(_outcome_follower(jobs, reporter))
    if observers is not None:
        observers.attach(scheduler)
    state: dict[str, bool] = {}
    try:
        finished = run_interruptibly(scheduler, state, console=getattr(reporter, "console", None))
    finally:
        if observers is not None:
            observers.finish(scheduler)
    # only hosts still unsettled look at it: they were stopped by the deadline
    state["deadline"] = finished is False and settings.deadline is not None
    for outcome in outcomes:
        if not outcome.settled:
            _settle_stopped(outcome, state, settings, reporter)
    reporter.finish(outcomes)
    if state.get("output_closed"):
        return ExitCode.OUTPUT_CLOSED
    if state.get("interrupted"):
        return stopped_by(state)
    return exit_code_for(outcome.code for outcome in outcomes if outcome.code is not None)


def _jobs_for(
    settings: Settings,
    make_commands: CommandFactory,
    reporter: Reporter,
    outcomes: list[HostOutcome],
) -> dict[SshJob, HostOutcome]:
    """One job per target, each reporting to its outcome; every target is checked (its node,
    its commands, their local files) before any connection: a bad one is a usage error."""
    nodes = _Nodes(settings)
    jobs: dict[SshJob, HostOutcome] = {}
    for outcome in outcomes:
        formatter = OutcomeFormatter(outcome, reporter, verbose=settings.verbose)
        try:
            node = nodes.node(outcome.target, formatter)
            outcome.user = node.username
            outcome.fields = host_fields(outcome.target, outcome.name, nodes.config)
            commands = make_commands(outcome.target, outcome)
            for command in commands:  # missing local files: before any connection
                command.check_local()
            job = SshJob(node, commands=commands, critical=False, label=outcome.name)
        except (SshJobsError, ValueError, OSError) as exc:
            raise click.UsageError(f"{outcome.name}: {exc}") from exc
        jobs[job] = outcome
    return jobs


def _outcome_follower(jobs: dict[SshJob, HostOutcome], reporter: Reporter) -> Callable[[Any], None]:
    """The scheduler subscriber that starts and settles each job's outcome as it runs."""

    def on_event(event: Any) -> None:
        outcome = jobs.get(event.job)
        if outcome is None:
            return
        if event.kind == "started":
            outcome.begin()
            reporter.host_started(outcome)
        elif event.kind in ("done", "failed") and not outcome.settled:
            settle_from_job(outcome, event.job, event.exception)
            reporter.host_done(outcome)

    return on_event


def _settle_stopped(
    outcome: HostOutcome, state: dict[str, bool], settings: Settings, reporter: Reporter
) -> None:
    """Settle the outcome of a host whose job the end of the run stopped (closed output,
    interruption, deadline) or that never ran; reported if it had started or hit the deadline
    (not on a closed output: nothing can be written any more)."""
    outcome.stopped_by_run = True
    if state.get("output_closed"):
        outcome.fail(BrokenPipeError("standard output closed"), ExitCode.OUTPUT_CLOSED)
        return
    if state.get("interrupted"):
        outcome.fail(KeyboardInterrupt("interrupted"), ExitCode.INTERRUPTED)
    elif state.get("deadline"):
        outcome.fail(
            TimeoutError(f"the run deadline of {settings.deadline:g}s was reached"),
            ExitCode.TIMEOUT,
        )
    else:
        outcome.fail(RuntimeError("the job did not run"), ExitCode.FAILED)
    if outcome.start is not None or state.get("deadline"):
        reporter.host_done(outcome)
