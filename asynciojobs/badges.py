"""How jobs show: the four-column status badge of ``list()`` and the JobDisplay mixin (labels,
results, requirements, DOT style).

Badge columns, in order: critical, outcome, state, forever. The Unicode symbols are those of
the asynciojobs READMEs; an ASCII set is used when ``sys.stdout`` cannot encode them (checked
each time, since stdout may be swapped, e.g. by test harnesses or redirections).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .states import SKIPPED

UNICODE = {
    "critical": "⚠",
    "raised": "★",
    "fine": "☉",
    "skipped": "⊘",
    "done": "☓",
    "running": "↺",
    "scheduled": "⚑",
    "idle": "⚐",
    "forever": "∞",
    "blank": " ",
}
ASCII = {
    "critical": "!",
    "raised": ":(",
    "fine": ":)",
    "skipped": "--",
    "done": "x",
    "running": "o",
    "scheduled": ".",
    "idle": ">",
    "forever": "8",
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
    if job._aj_state == SKIPPED:
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


class JobDisplay:
    """How a job shows itself: labels, badge, result, requirements, DOT style.

    A mixin of :class:`~asynciojobs.job.AbstractJob`; subclasses override ``text_label()``,
    ``graph_label()``, ``details()`` or ``dot_style()``.
    """

    __slots__ = ()

    # provided by AbstractJob (declared here for type checkers only)
    if TYPE_CHECKING:
        label: Any
        forever: bool
        _aj_cancelled: bool
        _aj_exc: BaseException | None
        _aj_id: str | None
        _aj_required: Any
        _aj_result: Any
        _aj_state: int

        def is_critical(self) -> bool: ...
        def is_done(self) -> bool: ...
        def is_skipped(self) -> bool: ...

    # ---- labels
    def text_label(self) -> str:
        """One-line description for ``list()``; subclasses override it."""
        legacy = getattr(self, "default_label", None)  # pre-0.7 hook name
        if callable(legacy):
            return str(legacy())
        return "NOLABEL"

    def graph_label(self) -> str:
        """Description for graphs (may hold newlines); defaults to ``text_label()``."""
        legacy = getattr(self, "dot_label", None)  # pre-0.7 hook name
        if callable(legacy):
            return str(legacy())
        return self.text_label()

    def display_label(self) -> str:
        """The label shown by ``list()``: ``label`` if set, else ``text_label()``."""
        label = self.label
        if label is None:
            return self.text_label() or "NOLABEL"
        if callable(label):  # a pre-0.7 subclass defining a label() method
            return str(label())
        return str(label)

    def details(self) -> str | None:
        """Extra multi-line text for ``list(details=True)``."""
        return None

    # ---- representation
    def repr_id(self) -> str:
        """The id given by the last numbering (``list()``, verbose runs), else ``??``."""
        return "??" if self._aj_id is None else str(self._aj_id)

    def repr_short(self, unicode: bool | None = None) -> str:
        """The four-column status badge."""
        return badge(self, unicode)

    def repr_main(self) -> str:
        """``<ClassName `label`>``."""
        return f"<{type(self).__name__} `{JobDisplay.display_label(self)}`>"

    def repr_result(self) -> str:
        """``[[ -> result]]``, ``!! exception => Type:msg!!``, or nothing when not done."""
        if self._aj_state == SKIPPED:
            return f"[[{self._aj_exc}]]" if self._aj_exc is not None else "[[skipped]]"
        if not self.is_done():
            return " (cancelled)" if self._aj_cancelled and not self.forever else ""
        exc = self._aj_exc
        if exc is None:
            return f"[[ -> {self._aj_result}]]"
        kind = "CRIT. EXC." if self.is_critical() else "exception"
        return f"!! {kind} => {type(exc).__name__}:{exc}!!"

    def repr_requires(self) -> str:
        """`` - requires {01, 02}`` or nothing."""
        reqs = self._aj_required  # None, one job, a tuple or a set
        if reqs is None:
            return ""
        if type(reqs) is not set and type(reqs) is not tuple:
            reqs = (reqs,)
        elif not reqs:
            return ""
        ids = sorted(job.repr_id() for job in reqs)
        return " - requires {" + ", ".join(ids) + "}"

    def __repr__(self) -> str:
        return f"{self.repr_short()} {self.repr_main()}{self.repr_result()}{self.repr_requires()}"

    def dot_style(self) -> dict[str, str]:
        """Graphviz node attributes: box, rounded (not for schedulers), dashed if forever,
        red and thick if critical. Subclasses may override it."""
        styles = [] if getattr(type(self), "_aj_is_scheduler", False) else ["rounded"]
        if self.forever:
            styles.append("dashed")
        style = {"shape": "box", "style": ",".join(styles)} if styles else {"shape": "box"}
        if self.is_critical():
            style.update(color="red", penwidth="2")
        else:
            style["penwidth"] = "0.5"
        return style


def job_label(job: Any) -> str:
    """The label ``list()`` shows for ``job``, for our messages: read through JobDisplay, so
    that a subclass's own attribute named ``display_label`` cannot get in the way."""
    return JobDisplay.display_label(job)
