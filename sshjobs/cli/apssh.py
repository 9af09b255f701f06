"""``Apssh``: apssh's command line (``apssh -t TARGETS [options] COMMAND...``) on our engine.

``Apssh().main('-t', 'host', '-l', 'root', 'hostname')`` runs ``hostname`` on ``host`` and
returns the exit code (0 when every host returned 0, else 1); ``.proxies`` then holds the
SshNode of each target. The same grammar as ``sshjobs apssh ...`` from a shell.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sshjobs.cli.apssh_base import ApsshBase, ApsshFailure
from sshjobs.commands import Run, RunScript, RunString
from sshjobs.node import SshNode

__all__ = ["Apssh", "MARK_OK", "MARK_FAILED"]

#: ``--mark`` subdirectories of the output directory (valid ``-t`` values for a next run)
MARK_OK, MARK_FAILED = "0ok", "1failed"


class Apssh(ApsshBase):
    """Run a command, or a local script (-s), on many hosts at once over SSH (apssh's grammar).
    """

    default_prog = "apssh"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add("-m", "--mark", action="store_true",
            help="with -o/-d: write DIR/0ok/HOST or DIR/1failed/HOST holding the host's result")
        add("-s", "--script", action="store_true",
            help="the first word is a local script pushed and run with the other words as "
                 "arguments; not a local file, it is the script's text itself")
        add("-i", "--includes", action="append", default=[], metavar="FILE",
            help="with -s: local file pushed next to the script (repeatable)")
        add("commands", nargs=argparse.REMAINDER,
            help="the command, run by the remote shell (quote shell specials)")

    def run_main(self, args: argparse.Namespace) -> int:
        if args.mark and not (args.out_dir or args.date_time):
            raise ApsshFailure("-m/--mark needs -o DIR or -d (where the marks are written)", 2)
        if self.prepare(args):
            return 0
        if not args.commands:
            raise ApsshFailure("no command: apssh -t TARGETS [options] COMMAND...")
        if args.includes and not args.script:
            print(f"{self.prog}: -i/--includes ignored without -s/--script", file=sys.stderr)
        for include in args.includes if args.script else ():
            if not Path(include).expanduser().is_file():
                raise ApsshFailure(f"no such include file: {include!r}")
        if args.script and not Path(args.commands[0]).expanduser().exists() \
                and not any(c.isspace() or c in ";|&" for c in args.commands[0]):
            print(f"{self.prog}: -s: no local file {args.commands[0]!r}: running it as the "
                  f"text of a script", file=sys.stderr)
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

    def after_run(self, args: argparse.Namespace, results: list[Any]) -> None:
        """``--mark``: ``0ok/HOST`` (holding ``0``) or ``1failed/HOST`` (the exit status, a
        signal name, or ``None`` when unreachable); a stale mark of the other kind is removed,
        so that a directory reused across runs says how the last run went."""
        if not args.mark or not self.run_name:
            return
        assert self.proxies is not None
        for proxy, result in zip(self.proxies, results):
            self.write_mark(self.run_name, proxy, result)

    @staticmethod
    def write_mark(run_name: str, proxy: SshNode, result: Any) -> None:
        good, bad = (MARK_OK, MARK_FAILED) if result == 0 else (MARK_FAILED, MARK_OK)
        directory = Path(run_name) / good
        directory.mkdir(parents=True, exist_ok=True)
        (directory / proxy.hostname).write_text(f"{result}\n")
        stale = Path(run_name) / bad / proxy.hostname
        if stale.exists():
            os.unlink(stale)
