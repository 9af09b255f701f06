"""Per-job run settings beyond the public asynciojobs: timeout, retries, backoff and the
policy on a failed requirement.

They are given as keywords (``Job(..., timeout=5, retries=2)``, ``Scheduler(...,
on_failed_requirement="skip")``), read with ``run_settings()`` and changed with
``set_run_settings()``. The engine keeps them under private names (``_aj_timeout``...), never
under the plain ``timeout``/``retries``/``backoff`` names: a user's job class may use those
names for its own purposes (a ``SleepJob`` whose ``self.timeout`` is how long it sleeps) without
the scheduler mistaking them for its settings.

On a scheduler, ``on_failed_requirement`` is also the default of its jobs; a scheduler's own
``timeout`` attribute is its global deadline (as in the public asynciojobs), a different thing
from the per-attempt timeout of ``run_settings()``, which applies to a nested scheduler as a
job of its parent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

POLICIES = (None, "run", "skip")
_KEEP: Any = object()


class RunSettings(NamedTuple):
    """A job's own run settings (``None`` policy: as its scheduler)."""

    timeout: float | None
    retries: int
    backoff: float
    on_failed_requirement: str | None


class RunSettingsMixin:
    """``run_settings()`` / ``set_run_settings()`` and the class-level defaults: an instance
    stores only what was given."""

    # hidden from type checkers: the settings live in the instance's __dict__ (AbstractJob has
    # one, a scheduler too); an empty __slots__ here makes mypy refuse those assignments
    if not TYPE_CHECKING:
        __slots__ = ()

    _aj_timeout: float | None = None  # seconds per attempt, None: no limit
    _aj_retries: int = 0  # extra attempts after an exception
    _aj_backoff: float = 1.0  # wait backoff * 2**n seconds before attempt n + 2
    _aj_on_failed: str | None = None  # "run", "skip", or None: as the enclosing scheduler

    def run_settings(self) -> RunSettings:
        """This job's own timeout, retries, backoff and on_failed_requirement."""
        return RunSettings(self._aj_timeout, self._aj_retries, self._aj_backoff, self._aj_on_failed)

    def set_run_settings(
        self,
        *,
        timeout: Any = _KEEP,
        retries: Any = _KEEP,
        backoff: Any = _KEEP,
        on_failed_requirement: Any = _KEEP,
    ) -> Any:
        """Change some run settings (the others are kept); returns self. ``timeout=None``
        removes the per-job timeout, ``on_failed_requirement=None`` means "as my scheduler".
        ValueError on a value out of range."""
        if timeout is not _KEEP:
            if timeout is not None and not timeout > 0:
                raise ValueError(
                    f"timeout must be a positive number of seconds or None, not {timeout!r}"
                )
            self._aj_timeout = timeout
        if retries is not _KEEP:
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
            self._aj_retries = retries
        if backoff is not _KEEP:
            if not backoff >= 0:
                raise ValueError(f"backoff must be a number of seconds >= 0, not {backoff!r}")
            self._aj_backoff = backoff
        if on_failed_requirement is not _KEEP:
            if on_failed_requirement not in POLICIES:
                raise ValueError(
                    f"on_failed_requirement must be 'run' or 'skip', not {on_failed_requirement!r}"
                )
            self._aj_on_failed = on_failed_requirement
        return self
