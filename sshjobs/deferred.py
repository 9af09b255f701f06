"""apssh's ``apssh.deferred`` module name: ``from sshjobs.deferred import Deferred, ...``."""

from .capture import Capture, Deferred, Variables

__all__ = ["Capture", "Deferred", "Variables"]
