"""apssh's ``apssh.sshjob`` module name: ``from sshjobs.sshjob import SshJob``."""

from .errors import CommandFailedError
from .job import SshJob

__all__ = ["CommandFailedError", "SshJob"]
