"""The one exception a scenario file can raise while it is read, checked or built.

Why a dedicated class: a scenario is user input, so every problem must come back as one line
that names the file, the line and the key at fault — never as an empty scheduler (apssh's
behaviour) nor as a bare ``KeyError`` from deep inside the builder.
"""

from __future__ import annotations

from sshjobs.errors import SshJobsError


class ScenarioError(SshJobsError):
    """A scenario file that cannot be loaded: invalid YAML or template, unknown key, bad value,
    dangling reference.  ``str()`` is ``file:line: key: problem``; the parts are attributes
    (``filename``, ``line``, ``key``, ``problem``); ``host`` is None."""

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.problem = message
        self.filename = filename
        self.line = line
        self.key = key
        # a scenario error is about a file, not a host
        super().__init__(self._one_line(), host=None)

    def _one_line(self) -> str:
        where = self.filename or "<scenario>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.problem}"
        return f"{where}: {self.problem}"

    def __str__(self) -> str:
        return self._one_line()
