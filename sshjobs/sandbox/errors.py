"""The one error the sandbox raises: a message fit for a single line on the terminal."""

from __future__ import annotations


class SandboxError(Exception):
    """A sandbox could not be started, found or stopped; ``str()`` says why and what to do."""

    host: str | None = None
