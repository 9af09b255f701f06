"""The one error the sandbox raises: a message fit for a single line on the terminal."""

from __future__ import annotations

from sshjobs.errors import SshJobsError


class SandboxError(SshJobsError):
    """A sandbox could not be started, found or stopped; ``str()`` says why and what to do."""
