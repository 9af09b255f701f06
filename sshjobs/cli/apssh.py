"""``Apssh``: apssh's command line (``apssh -t TARGETS [options] COMMAND...``) on our engine.

``Apssh().main('-t', 'host', '-l', 'root', 'hostname')`` runs ``hostname`` on ``host`` and
returns the exit code (0 when every host returned 0, else 1); ``.proxies`` then holds the
SshNode of each target. The same grammar as ``sshjobs apssh ...`` from a shell.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sshjobs.cli.apssh_base import ApsshBase, ApsshFailure
from sshjobs.commands import Run, RunScript, RunString

__all__ = ["Apssh"]


class Apssh(ApsshBase):
    """Run a command, or a local script (-s), on many hosts at once over SSH (apssh's grammar)."""

    default_prog = "apssh"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add(
            "-s",
            "--script",
            action="store_true",
            help="the first word is a local script pushed and run with the other words as "
            "arguments; not a local file, it is the script's text itself",
        )
        add(
            "-i",
            "--includes",
            action="append",
            default=[],
            metavar="FILE",
            help="with -s: local file pushed next to the script (repeatable)",
        )
        add(
            "commands",
            nargs=argparse.REMAINDER,
            help="the command, run by the remote shell (quote shell specials)",
        )

    def run_main(self, args: argparse.Namespace) -> int:
        if not args.commands and not (args.list_targets or args.dry_run):
            raise ApsshFailure(f"no command: {self.prog} -t TARGETS [options] COMMAND...")
        if self.prepare(args):
            return 0
        if args.includes and not args.script:
            print(f"{self.prog}: -i/--includes ignored without -s/--script", file=sys.stderr)
        for include in args.includes if args.script else ():
            if not Path(include).expanduser().is_file():
                raise ApsshFailure(f"no such include file: {include!r}")
        if (
            args.script
            and not Path(args.commands[0]).expanduser().exists()
            and not any(c.isspace() or c in ";|&" for c in args.commands[0])
        ):
            print(
                f"{self.prog}: -s: no local file {args.commands[0]!r}: running it as the "
                f"text of a script",
                file=sys.stderr,
            )
        return self.run_jobs(args, lambda proxy: self.command(args))

    @staticmethod
    def command(args: argparse.Namespace) -> Any:
        """``Run`` of the words; with ``-s``: ``RunScript`` of a local file, else ``RunString``
        whose text is the first word (both with ``-i`` includes)."""
        words = args.commands
        if not args.script:
            return Run(*words)
        first, rest = words[0], words[1:]
        if Path(first).expanduser().is_file():
            return RunScript(first, *rest, includes=args.includes or None)
        return RunString(first, *rest, includes=args.includes or None)
