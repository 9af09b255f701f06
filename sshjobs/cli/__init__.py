"""The ``sshjobs`` command line (click). Only this package talks to the terminal."""

from sshjobs.cli.exit import ExitCode
from sshjobs.cli.main import cli, main

__all__ = ["cli", "main", "ExitCode"]
