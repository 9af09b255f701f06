"""Status badges: the four-column symbol strip shown in front of each job by ``list()``.

Columns, in order: critical, outcome, state, forever. The Unicode symbols are those of the
asynciojobs READMEs; an ASCII set is used when ``sys.stdout`` cannot encode them (checked
each time, since stdout may be swapped, e.g. by test harnesses or redirections).
"""

from __future__ import annotations

import sys
from typing import Any

UNICODE = {
    "critical": "⚠", "raised": "★", "fine": "☉", "skipped": "⊘",
    "done": "☓", "running": "↺", "scheduled": "⚑", "idle": "⚐", "forever": "∞",
    "blank": " ",
}
ASCII = {
    "critical": "!", "raised": ":(", "fine": ":)", "skipped": "--",
    "done": "x", "running": "o", "scheduled": ".", "idle": ">", "forever": "8",
    "blank": " ",
}
_PROBE = "".join(UNICODE.values())
_verdicts: dict[str, bool] = {}


def unicode_ok(stream: Any = None) -> bool:
    """Whether ``stream`` (default: the current ``sys.stdout``) can encode the symbols."""
    stream = sys.stdout if stream is None else stream
    encoding = getattr(stream, "encoding", None) or "ascii"
    verdict = _verdicts.get(encoding)
    if verdict is None:
        try:
            _PROBE.encode(encoding)
            verdict = True
        except (UnicodeEncodeError, LookupError):
            verdict = False
        _verdicts[encoding] = verdict
    return verdict


def symbols(unicode: bool | None = None) -> dict[str, str]:
    """The symbol table to use (``unicode=None``: decide from stdout's encoding)."""
    if unicode is None:
        unicode = unicode_ok()
    return UNICODE if unicode else ASCII


def badge(job: Any, unicode: bool | None = None) -> str:
    """The badge of one job, e.g. ``"⚠ ★ ☓ ∞"`` - always the same width for a symbol set."""
    sym = symbols(unicode)
    blank = sym["blank"]
    wide_blank = blank * len(sym["fine"])
    critical = sym["critical"] if job.is_critical() else blank
    if job.is_skipped():
        outcome, state = sym["skipped"], sym["idle"]
    else:
        if job.is_running():
            outcome = sym["raised"] if job.raised_exception() else sym["fine"]
        else:
            outcome = wide_blank
        if job.is_done():
            state = sym["done"]
        elif job.is_running():
            state = sym["running"]
        elif job.is_scheduled():
            state = sym["scheduled"]
        else:
            state = sym["idle"]
    forever = sym["forever"] if job.forever else blank
    return f"{critical} {outcome} {state} {forever}"
