"""``sshjobs scenario FILE.yaml``: run a YAML scenario (nodes, services, jobs, requirements).

The file is read, rendered (``-D name=value``), checked and built before anything starts: bad
input is one line naming the file and the line, exit code 2, no connection made. The run uses
the output modes and the exit-code table of ``sshjobs run``; the "hosts" of the output are the
scenario's nodes that run jobs (named by their id), and a node's outcome is the first failure
among its jobs, else success.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import click

from sshjobs.cli.engine import (
    SHUTDOWN_TIMEOUT,
    OutcomeFormatter,
    run_interruptibly,
    settle_from_job,
)
from sshjobs.cli.exit import ExitCode, exit_code_for, stopped_by
from sshjobs.cli.main import EXIT_EPILOG
from sshjobs.cli.observe import Observers
from sshjobs.cli.options import (
    check_key_files,
    connection_options,
    make_base_settings,
    output_options,
)
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.output_setup import make_fanout, print_out_dir
from sshjobs.cli.reporters import Reporter
from sshjobs.formatters import Formatter
from sshjobs.scenario import NodeDefaults, Scenario, ScenarioError, YamlLoader
from sshjobs.targets import Target

__all__ = ["scenario"]

logger = logging.getLogger("sshjobs.cli.scenario")


class BadScenario(click.ClickException):
    """A scenario file that cannot be loaded: one line, exit code 2 (nothing was started)."""

    exit_code = int(ExitCode.USAGE)


def parse_defines(defines: tuple[str, ...]) -> dict[str, str]:
    """``-D name=value`` options as template variables (values stay strings)."""
    env: dict[str, str] = {}
    for item in defines:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.UsageError(f"-D {item!r}: expected NAME=VALUE with NAME an identifier")
        env[name.strip()] = value
    return env


def single_line(text: str) -> str:
    """A listing line whose label spans several lines (a ``run: |`` block): its first line and
    how many more there are, so that each job stays on one line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) <= 1:
        return text.rstrip("\n")
    first, more, closing = lines[0].rstrip(), lines[1:], ""
    if not any(char.isalnum() for char in more[-1]):  # the listing's closing "`>"
        closing = more.pop().strip()
    return f"{first} [+{len(more)} lines]{closing}" if more else f"{first}{closing}"


def listing(scheduler: Any) -> list[str]:
    """``scheduler.list(details=True)`` with one line per job and per command (a multi-line
    ``run: |`` label shows its first line and how many more it has)."""
    from asynciojobs.render import Statistics, list_lines

    lines: list[str] = []
    for line in list_lines(scheduler, False):
        lines.append(single_line(line))
        job = _job_of_line(scheduler, line)
        if job is None:
            continue
        node = getattr(job, "node", None)
        if node is not None:
            lines.append(node.endpoint() if hasattr(node, "endpoint") else str(node))
        for command in getattr(job, "commands", None) or ():
            label = command.get_label_line()
            if label:
                lines.append(single_line(label))
    lines.append(f"===== {Statistics.of(scheduler.iterate_jobs()).summary()}")
    return lines


def _job_of_line(scheduler: Any, line: str) -> Any:
    """The job a listing line starts with (its id, numbered by the listing), if any."""
    ident = line.split(" ", 1)[0]
    for job in scheduler.iterate_jobs():
        if job.repr_id() == ident:
            return job
    return None


def write_graph(dot_text: str, filename: str) -> None:
    """Write DOT text as ``filename``: kept as is for ``.dot``, else drawn by graphviz in the
    format of the file's suffix (svg, png, pdf...)."""
    from asynciojobs.dot import run_dot

    path = Path(filename)
    suffix = path.suffix.lstrip(".").lower()
    if suffix in ("dot", "gv", ""):
        path.write_text(dot_text)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".dot", delete=False) as dotfile:
        dotfile.write(dot_text)
    try:
        run_dot(dotfile.name, str(path), suffix)
    finally:
        Path(dotfile.name).unlink(missing_ok=True)


class _Run:
    """Outcomes of one scenario run: one per node that runs jobs, fed by job events.

    A node is settled once all its (non-forever) jobs are finished, so that its output is
    complete when the reporters render it; its status is its first failure, else success.
    """

    def __init__(self, spec: Scenario, reporter: Reporter, verbose: bool) -> None:
        self.reporter = reporter
        self.verbose = verbose
        used = {job.node for job in spec.jobs.values()}
        self.outcomes: dict[str, HostOutcome] = {}
        for node in spec.nodes.values():
            if node.id in used:
                target = Target(node.hostname or "localhost", node.username, node.port)
                self.outcomes[node.id] = HostOutcome(target=target, name=node.id)
        self.node_of: dict[Any, str] = {}
        #: jobs of each node still to finish (forever jobs never count)
        self.pending: dict[str, set[Any]] = {name: set() for name in self.outcomes}
        #: first failing job of each node, and the exception that ended it
        self.failure: dict[str, tuple[Any, BaseException | None]] = {}

    def formatter(self, node_id: str) -> Formatter:
        outcome = self.outcomes.get(node_id)
        if outcome is None:  # a gateway only: connection events, when verbose
            return Formatter(verbose=self.verbose)
        return OutcomeFormatter(outcome, self.reporter, verbose=self.verbose)

    def attach(self, jobs: dict[str, Any], spec: Scenario) -> None:
        for job_id, job in jobs.items():
            node_id = spec.jobs[job_id].node
            self.node_of[job] = node_id
            if not job.forever:
                self.pending[node_id].add(job)

    def on_event(self, event: Any) -> None:
        node_id = self.node_of.get(event.job)
        if node_id is None or self.outcomes[node_id].settled:
            return
        outcome = self.outcomes[node_id]
        if event.kind == "started":
            if outcome.start is None:
                outcome.begin()
                self.reporter.host_started(outcome)
            return
        if event.kind not in ("done", "failed", "skipped"):
            return  # retries, cancellations (forever jobs, timeout, interruption)
        if node_id not in self.failure and (event.kind != "done" or _failed(event.job)):
            self.failure[node_id] = (event.job, event.exception)
        self.pending[node_id].discard(event.job)
        if not self.pending[node_id]:
            self.settle(node_id)

    def settle(self, node_id: str) -> None:
        """Give the node its final status (first failure, else success) and report it."""
        outcome = self.outcomes[node_id]
        if node_id in self.failure:
            settle_from_job(outcome, *self.failure[node_id])
        else:
            outcome.succeed()
        self.reporter.host_done(outcome)


def _failed(job: Any) -> bool:
    return any(not result.ok for result in getattr(job, "results", None) or [])


def _finish(run: _Run, state: dict[str, bool]) -> ExitCode:
    """Settle the nodes the run left open, and compute the exit code."""
    for node_id, outcome in run.outcomes.items():
        if outcome.settled:
            continue
        if state.get("output_closed"):
            outcome.fail(BrokenPipeError("standard output closed"), ExitCode.OUTPUT_CLOSED)
            continue
        if state.get("interrupted"):
            outcome.fail(KeyboardInterrupt("interrupted"), ExitCode.INTERRUPTED)
        elif node_id in run.failure or not run.pending[node_id]:
            run.settle(node_id)  # e.g. a node with forever jobs only
            continue
        elif state.get("timeout"):
            outcome.fail(TimeoutError("the scenario's timeout was reached"), ExitCode.TIMEOUT)
        else:
            outcome.fail(
                RuntimeError("not run: the scenario stopped before these jobs"), ExitCode.FAILED
            )
        run.reporter.host_done(outcome)
    outcomes = list(run.outcomes.values())
    run.reporter.finish(outcomes)
    if state.get("output_closed"):
        return ExitCode.OUTPUT_CLOSED
    if state.get("interrupted"):
        return stopped_by(state)
    code = exit_code_for(o.code for o in outcomes if o.code is not None)
    if code == ExitCode.OK and state.get("ok") is False:
        code = ExitCode.TIMEOUT if state.get("timeout") else ExitCode.FAILED
    return code


@click.command(
    epilog=EXIT_EPILOG,
    short_help="Run a YAML scenario of nodes, services and jobs.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-D",
    "--define",
    "defines",
    multiple=True,
    metavar="NAME=VALUE",
    help="template variable for the file's Jinja2 {{ NAME }} (repeatable)",
)
@click.option(
    "--graph",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="write the jobs graph: FILE.svg, .png, .pdf (graphviz) or .dot",
)
@click.option(
    "--topology",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="write the nodes and their gateways: FILE.svg, .png, .pdf or .dot",
)
@click.option(
    "--save-intermediate",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="save the rendered YAML (after templating) as FILE",
)
@click.option(
    "-n",
    "--dry-run",
    is_flag=True,
    help="check the file, list its jobs and write the graphs; run nothing",
)
@connection_options
@click.option(
    "-w",
    "--window",
    type=click.IntRange(min=1),
    metavar="N",
    help="jobs running at once (overrides the file's scheduler window)",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="per-command limit (then exit code 4)",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="limit for the whole scenario (overrides the file's timeout; exit code 4)",
)
@output_options
@click.option("-r", "--raw", is_flag=True, help="output lines as they are, without node prefix")
def scenario(
    file: str,
    defines: tuple[str, ...],
    graph: str | None,
    topology: str | None,
    save_intermediate: str | None,
    dry_run: bool,
    window: int | None,
    **params: Any,
) -> int:
    """Run the YAML scenario FILE: nodes, services, jobs and their requirements.

    The file may be a Jinja2 template: -D NAME=VALUE defines its variables; an
    undefined one is an error naming the line. Nodes without their own keys /
    known_hosts / host-key mode take those of -i, --known-hosts, --host-keys.
    Output lines are prefixed with the id of the node they come from; the "hosts"
    of the exit codes below are the nodes that run jobs.

    \b
    Examples:
      sshjobs scenario examples/scenarios/hello.yaml
      sshjobs scenario deploy.yaml.j2 -D gateway=gw.example.org -D nodes=8
      sshjobs scenario deploy.yaml.j2 -n --graph jobs.svg   # check and draw only
      sshjobs scenario deploy.yaml -b --deadline 600 -o results -m
    """
    env = parse_defines(defines)
    settings = make_base_settings(params, check_key_files(params.get("keys") or ()))
    observers = Observers(settings.output, title=f"sshjobs scenario {Path(file).name}")
    fanout = make_fanout(settings, observers=observers)
    loader = YamlLoader(file)
    try:
        spec = loader.load_scenario(env, save_intermediate=save_intermediate)
        run = _Run(spec, fanout, settings.verbose)
        fanout.total = len(run.outcomes)
        extra: dict[str, Any] = {"command_timeout": settings.timeout} if settings.timeout else {}
        if settings.config:
            extra["config"] = settings.config  # -F
        if settings.ssh_options:
            extra["ssh_options"] = settings.ssh_options  # -O
        loader.node_defaults = NodeDefaults(
            keys=settings.keys or None,
            known_hosts=settings.known_hosts,
            host_key=settings.host_keys,
            timeout=settings.connect_timeout,
            formatter=run.formatter,
            force_formatter=True,
            verbose=settings.verbose or None,
            extra=extra,
        )
        built = loader.build()
    except ScenarioError as exc:
        raise BadScenario(str(exc)) from exc
    scheduler = built.scheduler
    if window:
        scheduler.jobs_window = window
    if settings.deadline:
        scheduler.timeout = settings.deadline
    if spec.scheduler.shutdown_timeout is None:  # leave time for the remote kills of a stop
        scheduler.shutdown_timeout = SHUTDOWN_TIMEOUT
    for filename, dot in ((graph, scheduler.dot_format), (topology, _topology(scheduler))):
        if filename:
            try:
                write_graph(dot(), filename)
            except Exception as exc:  # graphviz missing or failing, unwritable file
                raise BadScenario(f"cannot write {filename}: {exc}") from exc
    if dry_run:
        for line in listing(scheduler):
            click.echo(line)
        return 0
    run.attach(built.jobs, spec)
    scheduler.subscribe(run.on_event)
    observers.attach(scheduler)
    state: dict[str, bool] = {}
    try:
        ok = run_interruptibly(scheduler, state, console=getattr(fanout, "console", None))
    finally:
        observers.finish(scheduler)
    if ok is not None:
        state["ok"] = ok
        state["timeout"] = bool(scheduler.failed_time_out())
    code = _finish(run, state)
    print_out_dir(settings)
    return int(code)


def _topology(scheduler: Any) -> Any:
    def dot() -> str:
        from sshjobs.topology import topology_dot

        return topology_dot(scheduler)

    return dot
