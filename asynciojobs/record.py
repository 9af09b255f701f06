"""What happened in a run, as plain data: the input of the run report and of ``--events``.

A :class:`RunRecord` holds one :class:`JobRecord` per job (nested schedulers and their jobs
included): label, group, requirements, start / end in seconds since the run started, outcome
(``done``, ``failed``, ``skipped``, ``cancelled``, ``not-run``, or ``running`` for a report
made during the run), error, attempts, and what the job tells about itself.

Two ways to build one:

* :func:`snapshot` reads a scheduler's jobs as they are now (after or during a run);
* :class:`EventRecorder` is a subscriber turning the event stream into JSON-able dicts (one
  per event, optionally written as JSON lines), and :func:`replay` turns such dicts back
  into a :class:`RunRecord` - so a report can be made later from an events file.

Jobs describe themselves through two optional methods (the *monitor protocol*, also used by
:class:`~asynciojobs.monitor.Monitor`); asynciojobs knows nothing more of them:

* ``monitor_group() -> str | None``: the group a job belongs to, e.g. the node an SSH job
  runs on (report rows are grouped by it, the monitor shows it);
* ``monitor_details(tail: int) -> dict``: any of ``"tail"`` (the last output lines, a list
  of str), ``"status"`` (a short outcome text such as ``"exit 3"``) and ``"failed"``
  (True when the job ended without raising but its work failed).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from . import events as ev
from .graph import is_scheduler

logger = logging.getLogger("asynciojobs.record")

#: outcomes, as found in ``data-outcome`` of the report
OUTCOMES = ("done", "failed", "skipped", "cancelled", "not-run", "running")
#: output lines kept per job
TAIL_LINES = 5


@dataclass
class JobRecord:
    """One job of a run, its place in the graph and what became of it."""

    id: int
    label: str
    parent: int | None = None  # id of the nested scheduler holding it, None at top
    requires: list[int] = field(default_factory=list)
    group: str | None = None
    scheduler: bool = False
    critical: bool = False
    forever: bool = False
    start: float | None = None
    end: float | None = None
    outcome: str = "not-run"
    error: str | None = None
    attempts: int = 0
    status: str | None = None
    tail: list[str] = field(default_factory=list)
    ready: float | None = None  # requirements all finished: start - ready = window wait

    @property
    def duration(self) -> float | None:
        return None if self.start is None or self.end is None else self.end - self.start


@dataclass
class RunRecord:
    """All the jobs of one run, with when it started (wall clock) and how long it lasted."""

    jobs: list[JobRecord]
    title: str = "run"
    started: float = 0.0  # time.time() at the run's start
    duration: float = 0.0
    why: str = ""


def group_of(job: Any) -> str | None:
    """The job's ``monitor_group()``, None when it has none (or it fails)."""
    method = getattr(job, "monitor_group", None)
    if method is None:
        return None
    try:
        group = method()
    except Exception:
        logger.exception("monitor_group() of %r failed", job)
        return None
    return None if group is None else str(group)


def details_of(job: Any, tail: int = TAIL_LINES) -> dict[str, Any]:
    """The job's ``monitor_details(tail)``, {} when it has none (or it fails)."""
    method = getattr(job, "monitor_details", None)
    if method is None:
        return {}
    try:
        return dict(method(tail) or {})
    except Exception:
        logger.exception("monitor_details() of %r failed", job)
        return {}


def describe_error(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def structure(scheduler: Any) -> tuple[list[Any], list[JobRecord]]:
    """Every job under ``scheduler`` (nested too, schedulers before their jobs) and a record
    for each with its label, parent, requirements and group; ids are list positions."""
    jobs = [job for job in scheduler.iterate_jobs(scan_schedulers=True) if job is not scheduler]
    ids = {job: index for index, job in enumerate(jobs)}
    records = []
    for index, job in enumerate(jobs):
        parent = getattr(job, "_aj_parent", None)
        requires = sorted(ids[req] for req in job.required if req in ids)
        records.append(
            JobRecord(
                id=index,
                label=job.display_label(),
                parent=ids.get(parent),
                requires=requires,
                group=group_of(job),
                scheduler=is_scheduler(job),
                critical=job.is_critical(),
                forever=bool(job.forever),
            )
        )
    return jobs, records


def _outcome(job: Any, details: dict[str, Any]) -> str:
    if job.is_skipped():
        return "skipped"
    if job.is_cancelled():
        return "cancelled"
    if job.is_done():
        failed = job.raised_exception() is not None or details.get("failed")
        return "failed" if failed else "done"
    if job.is_running():
        return "running"
    return "not-run"


def snapshot(scheduler: Any, title: str | None = None) -> RunRecord:
    """The record of ``scheduler``'s last (or current) run, read from its jobs' states.

    Times count from the first job's start; a job still running ends "now" (the loop's
    clock when a loop runs, else the latest known time).
    """
    jobs, records = structure(scheduler)
    starts = [job._aj_t0 for job in jobs if job._aj_t0 is not None]
    origin = min(starts) if starts else 0.0
    latest = max(
        [t for job in jobs for t in (job._aj_t0, job._aj_t1) if t is not None], default=origin
    )
    try:
        import asyncio

        now = asyncio.get_running_loop().time()
    except RuntimeError:
        now = latest
    for job, record in zip(jobs, records, strict=True):
        details = details_of(job)
        record.outcome = _outcome(job, details)
        t0, t1 = job._aj_t0, job._aj_t1
        if record.outcome == "skipped":
            t0 = t1 = None
        if t0 is not None:
            record.start = t0 - origin
            record.end = (t1 if t1 is not None else max(now, t0)) - origin
        exc = job.raised_exception()
        if record.outcome != "skipped":
            record.error = describe_error(exc)
        elif exc is not None:
            record.error = str(exc)
        record.attempts = max(job._aj_attempts, 1 if t0 is not None else 0)
        record.status = details.get("status")
        record.tail = [str(line) for line in details.get("tail") or ()]
    fill_ready(records)
    end = max((r.end for r in records if r.end is not None), default=0.0)
    label = getattr(scheduler, "label", None)
    return RunRecord(
        records,
        title=title or label or "run",
        started=time.time() - (now - origin),
        duration=end,
        why=scheduler.why(),
    )


def fill_ready(records: list[JobRecord]) -> None:
    """When each started job became ready: its requirements' latest end, else its
    scheduler's start (0 at top); the gap to its start is time spent waiting for a slot."""
    by_id = {r.id: r for r in records}
    for record in records:
        if record.start is None:
            continue
        ends = [end for end in (by_id[req].end for req in record.requires) if end is not None]
        parent_start = by_id[record.parent].start if record.parent is not None else None
        ready: float = max(ends) if ends else parent_start if parent_start is not None else 0.0
        record.ready = min(ready, record.start)


# ---- events as JSON-able dicts ------------------------------------------------------------
class EventRecorder:
    """Subscriber keeping the events of a run as dicts, optionally writing them as JSON lines.

    The first dict (``"run-started"``) describes every job (``"jobs"``: the fields of
    :class:`JobRecord` that are known before the run); then one dict per event (``"kind"``,
    ``"job"``: its id, ``"t"``: seconds since the run started, ``"error"`` when there is
    one); at the end one ``"details"`` dict per job that has some, and ``"finished"``.
    """

    def __init__(self, stream: IO[str] | None = None, title: str | None = None) -> None:
        self.stream = stream
        self.title = title
        self.events: list[dict[str, Any]] = []
        self._top: Any = None
        self._ids: dict[Any, int] = {}
        self._jobs: list[Any] = []
        self._t0 = 0.0

    def _emit(self, record: dict[str, Any]) -> None:
        self.events.append(record)
        if self.stream is not None:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def __call__(self, event: ev.JobEvent) -> None:
        kind = event.kind
        if kind == ev.RUN_STARTED:
            if self._top is None:
                self._start(event)
            return
        if kind == ev.FINISHED:
            if event.job is self._top:
                self._finish(event)
            return
        job_id = self._ids.get(event.job)
        if job_id is None:
            return
        record: dict[str, Any] = {"kind": kind, "job": job_id, "t": round(event.time - self._t0, 6)}
        if event.exception is not None:
            record["error"] = (
                str(event.exception) if kind == ev.SKIPPED else describe_error(event.exception)
            )
        self._emit(record)

    def _start(self, event: ev.JobEvent) -> None:
        self._top = event.job
        self._t0 = event.time
        self._jobs, records = structure(event.job)
        self._ids = {job: index for index, job in enumerate(self._jobs)}
        keys = ("id", "label", "parent", "requires", "group", "scheduler", "critical", "forever")
        self._emit(
            {
                "kind": ev.RUN_STARTED,
                "t": 0.0,
                "wall": time.time(),
                "title": self.title or getattr(event.job, "label", None) or "run",
                "jobs": [{key: getattr(r, key) for key in keys} for r in records],
            }
        )

    def _finish(self, event: ev.JobEvent) -> None:
        for job_id, job in enumerate(self._jobs):
            details = details_of(job)
            if details:
                self._emit(
                    {
                        "kind": "details",
                        "job": job_id,
                        "status": details.get("status"),
                        "failed": bool(details.get("failed")),
                        "tail": [str(line) for line in details.get("tail") or ()],
                    }
                )
        self._emit(
            {"kind": ev.FINISHED, "t": round(event.time - self._t0, 6), "why": event.job.why()}
        )
        if self.stream is not None:
            self.stream.flush()
        self._top = False  # one run per recorder


def _run_started(event: dict[str, Any], run: RunRecord) -> None:
    """The first record of an events file: the jobs, into ``run.jobs``; the title and start."""
    if event.get("kind") != ev.RUN_STARTED or not isinstance(event.get("jobs"), list):
        raise ValueError(
            "not an events file: the first record must be the 'run-started' one describing the jobs"
        )
    for spec in event["jobs"]:
        run.jobs.append(
            JobRecord(**{key: spec[key] for key in spec if key in JobRecord.__dataclass_fields__})
        )
    run.started = float(event.get("wall") or 0.0)
    run.title = str(event.get("title") or "run")


def replay(events: Iterable[dict[str, Any]]) -> RunRecord:
    """A :class:`RunRecord` from the dicts of :class:`EventRecorder` (or an events file);
    ValueError when the first one is not a ``"run-started"`` describing the jobs."""
    records: list[JobRecord] = []
    run = RunRecord(records)
    last = 0.0
    for number, event in enumerate(events, 1):
        kind = event.get("kind")
        if number == 1:
            _run_started(event, run)
            continue
        if kind == ev.FINISHED:
            run.why = str(event.get("why") or "")
            last = max(last, float(event.get("t") or 0.0))
            continue
        job_id = event.get("job")
        if not isinstance(job_id, int) or not 0 <= job_id < len(records):
            continue
        record = records[job_id]
        if kind == "details":
            record.status = event.get("status")
            record.tail = [str(line) for line in event.get("tail") or ()]
            if event.get("failed") and record.outcome == "done":
                record.outcome = "failed"
            continue
        t = float(event.get("t") or 0.0)
        last = max(last, t)
        if kind == ev.STARTED:
            record.start, record.outcome = t, "running"
            record.attempts = max(record.attempts, 1)
        elif kind == ev.RETRY:
            record.attempts = max(record.attempts, 1) + 1
        elif kind in (ev.DONE, ev.FAILED, ev.CANCELLED):
            record.end = t
            record.outcome = kind
        elif kind == ev.SKIPPED:
            record.outcome = "skipped"
        if event.get("error"):
            record.error = str(event["error"])
    for record in records:
        if record.outcome == "running" and record.end is None:
            record.end = last
    fill_ready(records)
    run.duration = max([last] + [r.end for r in records if r.end is not None])
    return run


def read_events(path: Any) -> RunRecord:
    """:func:`replay` of a JSON-lines events file; ValueError naming a bad line."""

    def lines() -> Iterable[dict[str, Any]]:
        with open(path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None

    return replay(lines())
