"""Output modes of a run: each reporter turns host events into lines, files or records.

Events, in order for each host: ``host_started``, any number of ``line``, ``host_done``; then
``finish`` once for the run. Reporters never talk to the network; they only write through the
:class:`~sshjobs.cli.console.Console` or into files, so they are tested without any host.

* :class:`LiveReporter` - default: ``host: line`` as lines arrive (stdout→stdout, stderr→stderr),
  raw or ``--format``; a one-line error on stderr for each host that did not succeed.
* :class:`GatherReporter` - ``-b``: each distinct output once, under the folded list of hosts.
* :class:`JsonReporter` - ``--json``: one JSON record per host as it ends.
* :class:`DirReporter` - ``-o DIR`` / ``-d``: one file per host, ``--mark`` directories.
* :class:`ListsReporter` - ``--ok-to`` / ``--failed-to``: host lists reusable as ``-t FILE``.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from sshjobs.cli.console import Console, LineFormat, LineInfo
from sshjobs.cli.exit import ExitCode
from sshjobs.cli.outcome import HostOutcome
from sshjobs.gather import fold_hosts, gather

__all__ = [
    "DirReporter",
    "Fanout",
    "GatherReporter",
    "JsonReporter",
    "ListsReporter",
    "LiveReporter",
    "Reporter",
    "line_info",
    "summary_line",
]

logger = logging.getLogger("sshjobs.cli.reporters")


def line_info(outcome: HostOutcome) -> LineInfo:
    """The host-related fields a ``--format`` may show for this outcome's lines: those the
    engine resolved (ssh config's HostName and Port applied), else the target's own."""
    target = outcome.target
    fields = outcome.fields or {}
    return LineInfo(
        host=outcome.name,
        fqdn=fields.get("fqdn") or target.host,
        user=outcome.user or target.user or "",
        port=fields.get("port") or str(target.port or ""),
        target=str(target),
        name=outcome.name,
    )


class Reporter:
    """Base reporter: ignores every event. Subclasses override what they need."""

    def host_started(self, outcome: HostOutcome) -> None:
        """The host's job started (connection about to be made)."""

    def line(self, outcome: HostOutcome, stream: str, data: bytes) -> None:
        """A complete line of remote output (``stream`` is ``"stdout"`` or ``"stderr"``)."""

    def host_done(self, outcome: HostOutcome) -> None:
        """The host is settled (``outcome.code`` set)."""

    def finish(self, outcomes: list[HostOutcome]) -> None:
        """The run is over (also after an interruption: unsettled hosts have ``code`` None)."""


class Fanout(Reporter):
    """Several reporters fed with the same events, plus the progress counters."""

    def __init__(self, console: Console, reporters: Iterable[Reporter], total: int) -> None:
        self.console = console
        self.reporters = list(reporters)
        self.total = total
        self.running = self.done = self.failed = 0

    def _progress(self) -> None:
        self.console.progress(
            done=self.done, failed=self.failed, running=self.running, total=self.total
        )

    def host_started(self, outcome: HostOutcome) -> None:
        self.running += 1
        for reporter in self.reporters:
            reporter.host_started(outcome)
        self._progress()

    def line(self, outcome: HostOutcome, stream: str, data: bytes) -> None:
        for reporter in self.reporters:
            reporter.line(outcome, stream, data)

    def host_done(self, outcome: HostOutcome) -> None:
        self.running = max(0, self.running - 1)
        self.done += 1
        if not outcome.ok:
            self.failed += 1
        for reporter in self.reporters:
            reporter.host_done(outcome)
        self._progress()

    def finish(self, outcomes: list[HostOutcome]) -> None:
        self.console.close()
        for reporter in self.reporters:
            reporter.finish(outcomes)
        self.console.close()
        if self.console.progress_enabled and not self.console.broken:
            self.console.write_err(summary_line(outcomes) + "\n")


def summary_line(outcomes: list[HostOutcome]) -> str:
    """``[sshjobs] 40 hosts: 37 ok, 2 failed, 1 unreachable`` (terminals only, after the run)."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = outcome.code.name.lower() if outcome.code is not None else "unfinished"
        counts[key] = counts.get(key, 0) + 1
    order = ["ok", "failed", "unreachable", "timeout", "interrupted", "output_closed", "unfinished"]
    parts = [f"{counts[key]} {key.replace('_', ' ')}" for key in order if key in counts]
    return f"[sshjobs] {len(outcomes)} hosts: " + ", ".join(parts)


def error_line(console: Console, names: str, reason: str) -> str:
    """``sshjobs: fit[03,07]: exit status 1`` (host part colored on a terminal)."""
    return f"sshjobs: {console.host_color(names, stderr=True)}: {console.error_color(reason)}\n"


class LiveReporter(Reporter):
    """Lines as they arrive, prefixed by the host (or raw / custom format)."""

    def __init__(
        self,
        console: Console,
        line_format: LineFormat,
        *,
        report_errors: bool = True,
        show_lines: bool = True,
    ) -> None:
        self.console = console
        self.format = line_format
        self.report_errors = report_errors
        self.show_lines = show_lines
        self.colored_default = line_format.template == "{host}: {line}"
        #: raw mode: per stream, the host whose last line is still unfinished (no newline yet)
        self._unfinished: dict[str, str] = {}

    def line(self, outcome: HostOutcome, stream: str, data: bytes) -> None:
        if not self.show_lines:
            return
        stderr = stream == "stderr"
        if self.format.raw:
            # the bytes exactly as sent (a final line without newline stays so: binary output
            # is byte-exact); a newline is added only to keep another host's line apart
            other = self._unfinished.pop(stream, None)
            if other is not None and other != outcome.name:
                data = b"\n" + data
            if not data.endswith(b"\n"):
                self._unfinished[stream] = outcome.name
            (self.console.write_err_bytes if stderr else self.console.write_out_bytes)(data)
            return
        if self.colored_default:
            text = data.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
            rendered = f"{self.console.host_color(outcome.name, stderr=stderr)}: {text}\n"
        else:
            rendered = self.format.render(line_info(outcome), data, stream)
        (self.console.write_err if stderr else self.console.write_out)(rendered)

    def host_done(self, outcome: HostOutcome) -> None:
        if self.report_errors and not outcome.ok and not outcome.stopped_by_run:
            self.console.write_err(error_line(self.console, outcome.name, outcome.reason))

    def finish(self, outcomes: list[HostOutcome]) -> None:
        """Hosts stopped together (Ctrl-C, deadline): one folded line per reason."""
        if not self.report_errors:
            return
        stopped = {
            o.name: o.reason
            for o in outcomes
            if o.stopped_by_run
            and o.code != ExitCode.OUTPUT_CLOSED
            and (o.start is not None or o.code == ExitCode.TIMEOUT)
        }
        for hosts, reason in gather(stopped):
            self.console.write_err(error_line(self.console, fold_hosts(hosts), reason))


class GatherReporter(Reporter):
    """``clush -b``: wait for the end, print each distinct output once under its hosts.

    With ``diff`` (``clush --diff``): the most common stdout once (ties: the first), then every
    other one as a unified diff against it, headed by the folded hosts of each side.
    """

    def __init__(self, console: Console, *, diff: bool = False) -> None:
        self.console = console
        self.diff = diff

    def line(self, outcome: HostOutcome, stream: str, data: bytes) -> None:
        pass  # the outcome accumulates the bytes itself

    def _header(self, hosts: list[str], reason: str) -> str:
        header = fold_hosts(hosts)
        status = "" if reason == "ok" else f" {reason}"
        rule = "-" * max(15, min(len(header) + len(status) + 6, 78))
        return f"{rule}\n{self.console.host_color(header)} ({len(hosts)}){status}\n{rule}\n"

    def finish(self, outcomes: list[HostOutcome]) -> None:
        if self.diff:
            self._finish_diff(outcomes)
        else:
            self._finish_gather(outcomes)
        failures = {o.name: o.reason for o in outcomes if not o.ok}
        for hosts, reason in gather(failures):
            self.console.write_err(error_line(self.console, fold_hosts(hosts), reason))

    def _finish_gather(self, outcomes: list[HostOutcome]) -> None:
        with_output = {
            o.name: (bytes(o.stdout), bytes(o.stderr), o.reason)
            for o in outcomes
            if o.stdout or o.stderr
        }
        for hosts, (stdout, stderr, reason) in gather(with_output):
            header = fold_hosts(hosts)
            self.console.write_out(self._header(hosts, reason))
            if stdout:
                self.console.write_out(_text(stdout))
            if stderr:
                self.console.write_err(f"{header} stderr:\n" + _text(stderr))

    def _finish_diff(self, outcomes: list[HostOutcome]) -> None:
        reached = {o.name: bytes(o.stdout) for o in outcomes if o.settled and o.reached}
        groups = gather(reached)
        if not groups:
            return
        reference_hosts, reference = max(groups, key=lambda group: len(group[0]))
        reference_name = fold_hosts(reference_hosts)
        self.console.write_out(self._header(reference_hosts, "ok"))
        if reference:
            self.console.write_out(_text(reference))
        before = _text(reference).splitlines(keepends=True) if reference else []
        for hosts, output in groups:
            if hosts is reference_hosts:
                continue
            after = _text(output).splitlines(keepends=True) if output else []
            lines = difflib.unified_diff(
                before, after, fromfile=reference_name, tofile=fold_hosts(hosts)
            )
            self.console.write_out("".join(lines))


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if text.endswith("\n") else text + "\n"


#: characters that JSON leaves raw but that line splitters (Python's ``str.splitlines()``,
#: JavaScript) take for line ends: escaped, so that a record stays on one line for every reader
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(record: Mapping[str, Any]) -> str:
    """``record`` as one line of JSON (UTF-8 text kept readable, every line break escaped)."""
    text = json.dumps(record, ensure_ascii=False)
    for char, escape in _LINE_BREAKS.items():
        if char in text:
            text = text.replace(char, escape)
    return text + "\n"


class JsonReporter(Reporter):
    """One JSON object per line and per host, written when the host ends (or at the end)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.written: set[str] = set()

    def host_done(self, outcome: HostOutcome) -> None:
        self.console.write_out(json_line(outcome.as_record()))
        self.written.add(outcome.name)

    def finish(self, outcomes: list[HostOutcome]) -> None:
        for outcome in outcomes:  # hosts stopped by an interruption or the deadline
            if outcome.name not in self.written:
                self.host_done(outcome)


class DirReporter(Reporter):
    """Per-host files: ``DIR/HOST`` (stdout), ``DIR/HOST.err`` (stderr, when any), exact bytes.

    With ``mark``: ``DIR/0ok/HOST`` holding ``0``, or ``DIR/1failed/HOST`` holding the exit
    status, or the reason the host was not reached. Both mark directories are valid ``-t`` values.
    """

    def __init__(self, directory: str | os.PathLike[str], *, mark: bool = False) -> None:
        self.directory = Path(directory)
        self.mark = mark
        self._files: dict[tuple[str, str], IO[bytes]] = {}
        self.directory.mkdir(parents=True, exist_ok=True)

    def _file(self, outcome: HostOutcome, stream: str) -> IO[bytes]:
        key = (outcome.name, stream)
        handle = self._files.get(key)
        if handle is None:
            suffix = ".err" if stream == "stderr" else ""
            handle = open(self.directory / f"{outcome.name}{suffix}", "wb")  # noqa: SIM115
            self._files[key] = handle
        return handle

    def host_started(self, outcome: HostOutcome) -> None:
        for stream in ("stdout", "stderr"):  # a re-used directory must not show stale output
            key = (outcome.name, stream)
            if key not in self._files:
                path = self.directory / (outcome.name + (".err" if stream == "stderr" else ""))
                path.unlink(missing_ok=True)

    def line(self, outcome: HostOutcome, stream: str, data: bytes) -> None:
        self._file(outcome, stream).write(data)

    def host_done(self, outcome: HostOutcome) -> None:
        if outcome.reached:
            self._file(outcome, "stdout")  # an empty file still says "this host answered"
        self._close(outcome.name)
        if self.mark:
            self._mark(outcome)

    def _close(self, name: str) -> None:
        for stream in ("stdout", "stderr"):
            handle = self._files.pop((name, stream), None)
            if handle is not None:
                handle.close()

    def _mark(self, outcome: HostOutcome) -> None:
        ok_dir, failed_dir = self.directory / "0ok", self.directory / "1failed"
        for stale in (ok_dir / outcome.name, failed_dir / outcome.name):
            stale.unlink(missing_ok=True)
        if outcome.ok:
            ok_dir.mkdir(exist_ok=True)
            (ok_dir / outcome.name).write_text("0\n")
            return
        failed_dir.mkdir(exist_ok=True)
        if outcome.code == ExitCode.FAILED and outcome.exit_status is not None:
            content = f"{outcome.exit_status}\n"
        else:
            content = f"{outcome.reason}\n"
        (failed_dir / outcome.name).write_text(content)

    def finish(self, outcomes: list[HostOutcome]) -> None:
        for outcome in outcomes:
            if not outcome.settled:
                self._close(outcome.name)
                if self.mark:
                    self._mark(outcome)
        for name, _stream in list(self._files):
            self._close(name)


class ListsReporter(Reporter):
    """``--ok-to FILE`` / ``--failed-to FILE``: one re-parseable target a line."""

    def __init__(self, ok_to: str | None, failed_to: str | None) -> None:
        self.ok_to = ok_to
        self.failed_to = failed_to

    def finish(self, outcomes: list[HostOutcome]) -> None:
        for path, wanted in ((self.ok_to, True), (self.failed_to, False)):
            if path:
                lines = [str(o.target) for o in outcomes if o.ok is wanted]
                Path(path).write_text("".join(line + "\n" for line in lines))
