"""A live view of a run on the terminal, built on the job-event stream.

``scheduler.run(monitor=True)`` (or ``scheduler.subscribe(Monitor())``) shows, on stderr:

* on a terminal, a live area at the bottom, redrawn at most ``1 / refresh`` times a second:
  counts by state, the running jobs (their group - the node of an SSH job -, elapsed time and
  last output line), nested schedulers as indented groups; failures are printed above it as
  they happen, with their reason. Whatever the program writes to ``sys.stdout`` /
  ``sys.stderr`` (the jobs' output, ``print``, logging) while the monitor is active goes
  through one writer that lifts the live area, writes the complete lines, and puts the area
  back in the same write - nothing is garbled, nothing flickers. The cursor is hidden while
  the area is shown and restored at the end, also when the run is interrupted (Ctrl-C);
* elsewhere (a pipe, a file), one plain line per start and end of a job, naming it.

Terminal output is made of plain ANSI sequences (cursor up, erase below, SGR colours,
synchronized-update brackets), no dependency: asynciojobs depends on nothing beyond the
standard library. ``NO_COLOR`` is honoured. Jobs may describe themselves through
``monitor_group()`` and ``monitor_details()`` (see :mod:`asynciojobs.record`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import threading
from itertools import islice
from typing import IO, Any

from . import events as ev
from .graph import is_scheduler
from .record import describe_error, details_of, group_of
from .states import DONE as _DONE_STATE
from .states import RUNNING as _RUNNING_STATE
from .terminal import Above, clip, is_tty, same_terminal, seconds

logger = logging.getLogger("asynciojobs.monitor")

_SYNC_ON, _SYNC_OFF = "\x1b[?2026h", "\x1b[?2026l"  # terminals that ignore them draw anyway
_HIDE, _SHOW = "\x1b[?25l", "\x1b[?25h"
_STARTED, _DONE = ev.STARTED, ev.DONE
# what a polling monitor (see Monitor._start) still takes as events
_RARE_KINDS = frozenset(
    (ev.FAILED, ev.RETRY, ev.SKIPPED, ev.CANCELLED, ev.RUN_STARTED, ev.FINISHED)
)
_COLORS = {
    "done": "32",
    "failed": "31",
    "running": "33",
    "skipped": "2",
    "waiting": "2",
    "cancelled": "35",
    "group": "36",
    "dim": "2",
}


class Monitor:
    """Subscriber showing a run live (see the module's documentation).

    ``stream``: where to draw (default ``sys.stderr`` at the start of the run). ``live``:
    force the terminal mode on (True) or the plain-line mode (False); default: live when
    ``stream`` is a terminal. ``refresh``: seconds between redraws (0.1: 10 per second at
    most). ``rows``: running jobs listed at most (default: what fits the terminal, ≤ 12).
    ``color``: default on a terminal unless ``NO_COLOR`` is set.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        live: bool | None = None,
        refresh: float = 0.1,
        rows: int | None = None,
        color: bool | None = None,
    ) -> None:
        self.stream = stream
        self.live = live
        self.refresh = refresh
        self.rows = rows
        self.color = color
        self.redraws = 0
        self._lock = threading.RLock()
        self._is_live = False
        self._out: Any = None
        self._top: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.event_kinds: frozenset[str] | None = None  # None: all (see events.wants)
        self._reset()

    def _reset(self) -> None:
        self.total = 0
        self.counts = {"failed": 0, "skipped": 0, "cancelled": 0}
        self._done = 0
        self._running: dict[Any, float] = {}  # running leaf job -> start (loop time)
        self._parents: dict[Any, Any] = {}  # its scheduler, when not the top one
        self._groups: dict[Any, tuple[float, Any]] = {}  # nested scheduler -> (start, parent)
        self._t0 = 0.0
        self._shown = 0  # lines of the live area on screen
        self._frame = ""
        self._pending: list[str] = []  # plain mode: lines not yet written
        self._partial: dict[int, str] = {}
        self._saved: list[tuple[Any, str, Any]] = []
        self._proxies: dict[str, Above] = {}
        self._same: dict[int, bool] = {}  # stream id -> same terminal as ours
        self._active = False
        self._dirty = False
        self._nested: set[Any] = set()  # the nested schedulers of the run
        self._plain_types: set[type] = set()  # job classes without monitor_details()
        self._names: dict[Any, str] = {}
        self._leaves: list[Any] = []  # polling: the jobs whose states we read
        self._polling = False

    # ---- the subscriber: called twice per job, so the common cases come first and cheap
    def __call__(self, event: ev.JobEvent) -> None:
        kind, job, when, scheduler, _exception = event
        if kind == _STARTED and job not in self._nested and self._top is not None:
            self._running[job] = when
            if scheduler is not self._top:
                self._parents[job] = scheduler
            if not self._is_live:
                self._pending.append(f"{when - self._t0:8.3f}s started   {self._name(job)}\n")
            return
        if (
            kind == _DONE
            and type(job) in self._plain_types
            and self._running.pop(job, None) is not None
        ):
            self._done += 1
            if self._is_live:
                self._dirty = True
            else:  # what _note() writes for a done job, without its checks
                if scheduler is not self._top:
                    self._parents.pop(job, None)
                self._pending.append(f"{when - self._t0:8.3f}s done      {self._name(job)}\n")
            return
        self._other(event)

    def _other(self, event: ev.JobEvent) -> None:
        kind, job = event.kind, event.job
        if kind == ev.RUN_STARTED:
            if self._top is None:
                self._start(event)
            return
        if self._top is None:
            return
        if kind == ev.FINISHED:
            if job is self._top:
                self.close()
            return
        if kind == ev.STARTED:  # a nested scheduler
            self._groups[job] = (event.time, event.scheduler)
            if not self._is_live:
                self._note(event, kind)
            return
        if kind == ev.RETRY:
            self._note(event, kind)
            return
        # done, failed, skipped, cancelled
        if job in self._nested:
            self._groups.pop(job, None)
        else:
            self._running.pop(job, None)
            self._parents.pop(job, None)
            if (
                kind == ev.DONE
                and type(job) not in self._plain_types
                and details_of(job, 0).get("failed")
            ):
                kind = ev.FAILED
            if kind == ev.DONE:
                self._done += 1
            else:
                self.counts[kind] = self.counts.get(kind, 0) + 1
        if self._is_live and kind not in (ev.FAILED, ev.CANCELLED):
            self._dirty = True
        else:
            self._note(event, kind)

    def tally(self) -> dict[str, int]:
        """Jobs by state: waiting, running, done, failed, skipped, cancelled."""
        counts = dict(self.counts, running=len(self._running), done=self._done)
        finished = counts["done"] + counts["failed"] + counts["skipped"] + counts["cancelled"]
        counts["waiting"] = max(0, self.total - finished - counts["running"])
        return counts

    def _poll(self) -> None:
        """Polling mode: the running jobs and the done count, from the jobs' states."""
        running: dict[Any, float] = {}
        done = 0
        for job in self._leaves:
            state = job._aj_state
            if state == _RUNNING_STATE:
                if not job._aj_cancelled:
                    running[job] = job._aj_t0
            elif state == _DONE_STATE and job._aj_exc is None:
                done += 1
        self._running, self._done = running, done

    def _name(self, job: Any) -> str:
        """``label [group]`` on one line (computed once per job)."""
        name = self._names.get(job)
        if name is None:
            group = group_of(job)
            label = " ".join(job.display_label().split())
            name = f"{label} [{group}]" if group and group != label else label
            self._names[job] = name
        return name

    # ---- start and end
    def _start(self, event: ev.JobEvent) -> None:
        self._reset()
        self._top = event.job
        self._t0 = event.time
        # one pass over the jobs, nested ones too; what a job is, is looked up once per class
        kinds: dict[type, int] = {}  # 0: leaf job, 1: leaf job telling details, 2: scheduler
        stack = [event.job]
        while stack:
            for job in stack.pop().jobs:
                cls = type(job)
                kind = kinds.get(cls)
                if kind is None:
                    kind = kinds[cls] = (
                        2 if is_scheduler(job) else 1 if hasattr(cls, "monitor_details") else 0
                    )
                    if kind == 0:
                        self._plain_types.add(cls)
                if kind == 2:
                    self._nested.add(job)
                    stack.append(job)
                else:
                    self._leaves.append(job)
        self.total = len(self._leaves)
        self._loop = asyncio.get_running_loop()
        self._out = self.stream if self.stream is not None else sys.stderr
        self._is_live = is_tty(self._out) if self.live is None else self.live
        self._use_color = (
            self.color
            if self.color is not None
            else self._is_live and not os.environ.get("NO_COLOR")
        )
        self._active = True
        # terminal mode on plain jobs, no nested scheduler: the running jobs and the done
        # count are read from the jobs' states at each redraw (10 per second at most) instead
        # of the started/done events of every job, which the run then does not even make
        self._polling = (
            self._is_live and not self._nested and all(kind == 0 for kind in kinds.values())
        )
        self.event_kinds = _RARE_KINDS if self._polling else None
        if self._is_live:
            self._redirect()
            self._out.write(_HIDE)
            self._draw()
        self._arm()

    def close(self) -> None:
        """End the display: last frame, summary line, cursor back, streams given back.
        Called at the end of the run; safe to call twice (and after an interruption)."""
        if not self._active:
            self._top = None
            return
        self._active = False
        if self._polling:
            self._poll()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            for target, rest in [(t, r) for t, r in self._saved_partials() if r]:
                self.write_above(target, rest + "\n", force=True)
            if self._is_live:
                with self._lock:
                    self._out.write(self._lift() + self._summary() + "\n" + _SHOW)
                    self._shown = 0
            else:
                self._pending.append(self._summary() + "\n")
                self._out.write("".join(self._pending))
                self._pending.clear()
            self._out.flush()
        except (OSError, ValueError):  # a closed terminal: nothing more to show
            pass
        finally:
            self._restore()
            self._top = None
            self.event_kinds = None

    def above(self, stream: Any) -> Any:
        """A stream writing to ``stream`` above the live area while it is shown (as it is
        otherwise): for writers holding on to a stream of their own, such as a console."""
        return Above(self, stream)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _arm(self) -> None:
        if self._active and self._loop is not None and not self._loop.is_closed():
            self._timer = self._loop.call_later(self.refresh, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._active:
            return
        try:
            if self._is_live:
                if self._dirty or self._running or self._groups or self._polling:
                    self._draw()
            elif self._pending:
                self._out.write("".join(self._pending))
                self._pending.clear()
                self._out.flush()
        except (OSError, ValueError):
            logger.debug("monitor: cannot write any more, stopping the display")
            self._active = False
            self._restore()
            return
        self._arm()

    # ---- stream redirection (one writer for the terminal)
    def _redirect(self) -> None:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, Above):
                continue
            proxy = Above(self, current)
            setattr(sys, name, proxy)
            self._saved.append((sys, name, current))
            self._proxies[name] = proxy
        for handler in logging.getLogger().handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and stream is not None:
                for _owner, _name, original in list(self._saved):
                    if stream is original and isinstance(getattr(sys, _name), Above):
                        handler.setStream(getattr(sys, _name))
                        self._saved.append((handler, "stream", original))

    def _restore(self) -> None:
        for owner, name, original in reversed(self._saved):
            if owner is not sys:
                owner.setStream(original)
            elif getattr(sys, name) is self._proxies.get(name):  # unless replaced meanwhile
                setattr(sys, name, original)
        self._saved.clear()
        self._proxies.clear()

    def _saved_partials(self) -> list[tuple[Any, str]]:
        targets = {id(orig): orig for _o, _n, orig in self._saved}
        return [(targets[key], rest) for key, rest in self._partial.items() if key in targets]

    def write_above(self, target: Any, text: str, force: bool = False) -> None:
        """Write ``text`` to ``target`` above the live area (complete lines only); from any
        thread (a lock keeps writes and redraws apart)."""
        if not (self._active or force) or not self._is_live:
            target.write(text)
            return
        with self._lock:
            self._write_above_locked(target, text, force)

    def _write_above_locked(self, target: Any, text: str, force: bool) -> None:
        key = id(target)
        text = self._partial.pop(key, "") + text
        cut = text.rfind("\n") + 1
        if cut == 0:
            if len(text) < 4096:  # wait for the end of the line
                self._partial[key] = text
                return
            text += "\n"
        elif cut < len(text):
            self._partial[key] = text[cut:]
            text = text[:cut]
        out = self._out
        frame = "" if force else self._frame
        same = self._same.get(key)
        if same is None:
            same = self._same[key] = target is out or same_terminal(target, out)
        if same:
            if target is not out:
                target.flush()
            out.write(_SYNC_ON + self._lift() + text + frame + _SYNC_OFF)
        else:
            out.write(self._lift())
            out.flush()
            target.write(text)
            target.flush()
            out.write(frame)
        self._shown = frame.count("\n") + 1 if frame else 0
        out.flush()

    # ---- drawing
    def _lift(self) -> str:
        """Sequence taking the cursor to the top of the live area, erasing it."""
        if not self._shown:
            return ""
        up = f"\x1b[{self._shown - 1}A" if self._shown > 1 else ""
        return "\r" + up + "\x1b[J"

    def _paint(self, text: str, what: str) -> str:
        if not self._use_color:
            return text
        return f"\x1b[{_COLORS[what]}m{text}\x1b[0m"

    def _draw(self) -> None:
        self._dirty = False
        self.redraws += 1
        frame = "\n".join(self.frame_lines())
        with self._lock:
            self._frame = frame
            self._out.write(_SYNC_ON + self._lift() + frame + _SYNC_OFF)
            self._out.flush()
            self._shown = frame.count("\n") + 1

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self._out.fileno())
            if size.columns > 0 and size.lines > 0:
                return size.columns, size.lines
        except (OSError, ValueError, AttributeError):
            pass
        size = shutil.get_terminal_size()  # COLUMNS / LINES, else 80 x 24
        return size.columns, size.lines

    def frame_lines(self) -> list[str]:
        """The lines of the live area, at most as wide as the terminal (minus one)."""
        if self._polling:
            self._poll()
        columns, lines = self._size()
        width = max(20, columns - 1)
        now = self._loop.time() if self._loop is not None else self._t0
        out = [self._counts_line(now, width)]
        budget = self.rows if self.rows is not None else max(1, min(12, lines - 3))
        rows: list[tuple[str, bool]] = []
        self._rows_under(self._top, 0, now, width, rows, budget + 1)
        if len(rows) > budget:
            hidden = len(self._running) - sum(1 for r in rows[: budget - 1] if r[1])
            rows = [
                *rows[: budget - 1],
                (self._paint(f"  … {max(hidden, 1)} more running", "dim"), False),
            ]
        out.extend(text for text, _leaf in rows)
        return out

    def _counts_text(self) -> str:
        c = self.tally()
        parts = [(name, c[name]) for name in ("waiting", "running", "done", "failed", "skipped")]
        if c["cancelled"]:
            parts.append(("cancelled", c["cancelled"]))
        return " · ".join(f"{name} {count}" for name, count in parts)

    def _counts_line(self, now: float, width: int) -> str:
        text = clip(f"[{seconds(now - self._t0).strip()}] {self._counts_text()}", width)
        if not self._use_color:
            return text
        counts = self.tally()
        for name in ("running", "done", "failed", "skipped", "cancelled"):
            if counts[name]:
                text = text.replace(
                    f"{name} {counts[name]}", self._paint(f"{name} {counts[name]}", name), 1
                )
        return text

    def _rows_under(
        self,
        scheduler: Any,
        depth: int,
        now: float,
        width: int,
        rows: list[tuple[str, bool]],
        budget: int,
    ) -> None:
        """Rows for the running jobs of ``scheduler``: leaves, then nested groups."""
        indent = "  " * (depth + 1)
        parents = self._parents
        if scheduler is self._top:
            mine = ((j, t) for j, t in self._running.items() if j not in parents)
        else:
            mine = ((j, t) for j, t in self._running.items() if parents.get(j) is scheduler)
        for job, start in islice(mine, max(0, budget - len(rows))):
            group, label = group_of(job), job.display_label()
            where = f"{group}  " if group and group != label else ""
            tail = details_of(job, 1).get("tail") or []
            last = f"  │ {tail[-1]}" if tail else ""
            text = clip(f"{indent}{seconds(now - start)}  {where}{label}{last}", width)
            rows.append(
                (
                    self._paint(text[: len(indent) + 6], "running") + text[len(indent) + 6 :]
                    if self._use_color
                    else text,
                    True,
                )
            )
        for nested, (start, parent) in list(self._groups.items()):
            if len(rows) >= budget:
                return
            if parent is not scheduler:
                continue
            running = sum(1 for p in self._parents.values() if p is nested)
            label = (
                f"{indent}▸ {nested.display_label()}  {seconds(now - start).strip()}, "
                f"{running} running"
            )
            rows.append((self._paint(clip(label, width), "group"), False))
            self._rows_under(nested, depth + 1, now, width, rows, budget)

    def _summary(self) -> str:
        now = self._loop.time() if self._loop is not None else self._t0
        line = (
            f"[{seconds(now - self._t0).strip()}] {self._counts_text()} - "
            f"{self._top.why() if self._top is not None else ''}"
        )
        return (
            self._paint(line, "failed" if self.counts["failed"] else "done")
            if self._use_color
            else line
        )

    # ---- plain lines (and failures above the live area)
    def _note(self, event: ev.JobEvent, what: str) -> None:
        job = event.job
        reason = ""
        if what in (ev.FAILED, ev.RETRY):
            reason = describe_error(event.exception) or details_of(job, 0).get("status") or ""
        elif what == ev.SKIPPED and event.exception is not None:
            reason = str(event.exception).removeprefix("skipped: ")
        word = "FAILED" if what == ev.FAILED else what
        line = f"{event.time - self._t0:8.3f}s {word:9s} {self._name(job)}"
        if reason:
            line += ": " + " ".join(reason.split())
        if not self._is_live:
            self._pending.append(line + "\n")
            return
        if what == ev.CANCELLED and job.forever:  # forever jobs end so: not news
            self._dirty = True
            return
        columns, _ = self._size()
        text = clip(line, max(20, columns - 1))
        self._dirty = True
        self.write_above(
            self._out, self._paint(text, "failed" if what != ev.RETRY else "running") + "\n"
        )


class monitoring:
    """``with monitoring(scheduler, monitor):`` - subscribe a monitor (``True``: a new
    :class:`Monitor`; a Monitor or any subscriber: itself) for the duration of a run, and make
    sure its display is closed afterwards, even when the run is interrupted."""

    def __init__(self, scheduler: Any, monitor: Any) -> None:
        self.monitor = Monitor() if monitor is True else monitor
        self._unsubscribe = scheduler.subscribe(self.monitor)

    def __enter__(self) -> Any:
        return self.monitor

    def __exit__(self, *exc_info: object) -> None:
        self._unsubscribe()
        close = getattr(self.monitor, "close", None)
        if close is not None:
            close()
