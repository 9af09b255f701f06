"""What ``apssh``, ``appush`` and ``appull`` share: their options, the targets turned into
:class:`~sshjobs.SshNode` objects (``self.proxies``), the formatter, and the run of one
non-critical :class:`~sshjobs.SshJob` per target to apssh's exit code.

apssh's command lines are argparse grammars (``-tc`` is one option, the command is
``argparse.REMAINDER``), so argparse reproduces them here; what runs is our engine. The
differences with apssh are listed in ``docs/apssh-cli.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from asynciojobs import Scheduler, __version__
from sshjobs.cli.engine import run_interruptibly
from sshjobs.cli.options import default_window
from sshjobs.cli.passphrase import PassphraseAsker, load_key
from sshjobs.errors import SshJobsError
from sshjobs.formatters import (
    Formatter,
    HostFormatter,
    RawFormatter,
    SubdirFormatter,
    TerminalFormatter,
    TimeHostFormatter,
)
from sshjobs.job import SshJob
from sshjobs.keys import load_private_keys
from sshjobs.node import SshNode
from sshjobs.targets import Target, TargetError, read_spec, resolve_targets
from sshjobs.transport.hostkeys import HOST_KEY_MODES

__all__ = ["APSSH_DIR", "MARK_FAILED", "MARK_OK", "ApsshBase", "ApsshFailure"]

logger = logging.getLogger("sshjobs.cli.apssh")

#: where apssh looked for named target files (``-t rack1`` → ``~/.apssh/rack1``)
APSSH_DIR = "~/.apssh"

#: ``--mark`` subdirectories of the output directory (valid ``-t`` values for a next run)
MARK_OK, MARK_FAILED = "0ok", "1failed"

#: apssh's default connection timeout (``apssh/config.py``), in seconds
DEFAULT_CONNECT_TIMEOUT = 30.0


class ApsshFailure(Exception):
    """A one-line error ending the command before any connection, with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message with whitespace folded (else its class name)."""
    return " ".join(str(exc).split()) or type(exc).__name__


class ApsshBase:
    """The part of apssh's ``Cli`` classes common to the three commands.

    Subclasses add their own options (:meth:`add_options`) and say what to run on each target
    (:meth:`run_main`). ``main(*argv)`` returns the exit code; ``proxies`` holds one SshNode
    per target once the targets are resolved (gateways are their ``.gateway``).
    """

    #: the program name of the usage lines and errors
    default_prog = "apssh"

    def __init__(self, prog: str | None = None) -> None:
        self.prog = prog or self.default_prog
        self.proxies: list[SshNode] | None = None
        self.parsed_args: argparse.Namespace | None = None
        self.run_name: str | None = None
        self.formatter: Formatter | None = None

    # -- grammar -------------------------------------------------------------------------------
    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """The options of this command only (apssh's -s -i -m, the paths of a copy...)."""

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=self.prog, description=self.__doc__.splitlines()[0] if self.__doc__ else None
        )
        add = parser.add_argument
        add(
            "-t",
            "--target",
            dest="targets",
            action="append",
            default=[],
            metavar="TARGETS",
            help="hosts: names, user@host, gw->host, None->host, comma/space lists, a file "
            "of names or a directory whose file names are hosts (repeatable)",
        )
        add(
            "-x",
            "--exclude",
            dest="excludes",
            action="append",
            default=[],
            metavar="TARGETS",
            help="hosts to leave out, same grammar as -t (repeatable)",
        )
        add(
            "-l",
            "--login",
            default=None,
            metavar="USER",
            help="user for hosts that do not name one (default: the local user)",
        )
        add(
            "-g",
            "--gateway",
            default=None,
            metavar="[USER@]HOST",
            help="gateway for every target that has none (one shared connection)",
        )
        add("-L", "--list-targets", action="store_true", help="print the resolved targets and exit")
        add(
            "-n",
            "--dry-run",
            action="store_true",
            help="print the selected and excluded hosts and exit, connecting to nothing",
        )
        add(
            "-w",
            "--window",
            type=int,
            default=0,
            metavar="N",
            help="at most N hosts at once (default 0: no limit)",
        )
        add(
            "-c",
            "--connect-timeout",
            type=float,
            default=DEFAULT_CONNECT_TIMEOUT,
            metavar="SECONDS",
            help=f"connection timeout (default {DEFAULT_CONNECT_TIMEOUT:g})",
        )
        add(
            "-k",
            "--key",
            dest="keys",
            action="append",
            default=[],
            metavar="FILE",
            help="private key file (repeatable; default: ssh-agent and ~/.ssh keys)",
        )
        add(
            "-K",
            "--ok-if-no-key",
            action="store_true",
            help="go on even when no key is found (ssh config IdentityFile may provide one)",
        )
        add(
            "--host-keys",
            choices=HOST_KEY_MODES,
            default=None,
            help="host-key policy (default: SSHJOBS_HOST_KEYS, else the ssh config's "
            "StrictHostKeyChecking, else the library's default)",
        )
        add(
            "--known-hosts",
            default=None,
            metavar="FILE",
            help="extra known_hosts file, trusted on top of ~/.ssh/known_hosts",
        )
        add("-r", "--raw-format", action="store_true", help="output lines as they are")
        add(
            "-tc", "--time-colon-format", action="store_true", help="output lines as time:host:line"
        )
        add(
            "-f",
            "--format",
            default=None,
            metavar="FORMAT",
            help="line format: {linenl} {line} {host} {fqdn} {user} {time}, strftime codes",
        )
        add(
            "-o",
            "--out-dir",
            default=None,
            metavar="DIR",
            help="output of each host into DIR/HOST (stderr into DIR/HOST.err)",
        )
        add(
            "-d",
            "--date-time",
            action="store_true",
            help="like -o, into a directory named after the current date and time",
        )
        add(
            "-m",
            "--mark",
            action="store_true",
            help="with -o/-d: write DIR/0ok/HOST or DIR/1failed/HOST holding the host's result",
        )
        add("-v", "--verbose", action="store_true", help="connection events on stderr")
        add("-D", "--debug", action="store_true", help="diagnostics on stderr")
        add("-V", "--version", action="store_true", help="print the version and exit")
        self.add_options(parser)
        return parser

    # -- entry point ---------------------------------------------------------------------------
    def main(self, *argv: Any) -> int:
        """Run the command line ``argv`` (words, or one list of words; none: ``sys.argv``);
        return the exit code: 0 when every host returned 0, else 1 (2 for a grammar error)."""
        if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
            words = [str(word) for word in argv[0]]
        else:
            words = [str(word) for word in argv] if argv else sys.argv[1:]
        try:
            args = self.parsed_args = self.parser().parse_args(words)
        except SystemExit as exc:  # -h, or a grammar error already printed by argparse
            return exc.code if isinstance(exc.code, int) else 2
        if args.version:
            print(f"{self.prog} (sshjobs {__version__})")
            return 0
        try:
            return self.run_main(args)
        except ApsshFailure as exc:
            print(f"{self.prog}: {exc}", file=sys.stderr)
            return exc.code
        except KeyboardInterrupt:
            print(f"{self.prog}: interrupted", file=sys.stderr)
            return 130

    def run_main(self, args: argparse.Namespace) -> int:
        """What the command does once its grammar is parsed (subclasses)."""
        raise NotImplementedError

    # -- targets and nodes ---------------------------------------------------------------------
    @staticmethod
    def _spec(spec: str) -> str:
        """A ``-t``/``-x`` value, or the file of that name under ``~/.apssh/``."""
        if not spec or os.path.exists(os.path.expanduser(spec)) or os.path.isabs(spec):
            return spec
        saved = Path(APSSH_DIR).expanduser() / spec
        return str(saved) if saved.exists() else spec

    def targets(self, args: argparse.Namespace, *, with_excludes: bool = True) -> list[Target]:
        """The targets of ``-t``, ``-x``, ``-l`` (default: the local user) and ``-g``."""
        if not args.targets:
            raise ApsshFailure(
                "no target: give hosts with -t (e.g. -t host1,host2 or -t hosts.txt)"
            )
        login = args.login or getpass.getuser()
        excludes = [self._spec(s) for s in args.excludes] if with_excludes else []
        try:
            return resolve_targets(
                [self._spec(s) for s in args.targets], excludes, login=login, gateway=args.gateway
            )
        except TargetError as exc:
            raise ApsshFailure(str(exc)) from exc

    def _keys(self, args: argparse.Namespace) -> list[Any] | None:
        """``-k`` keys loaded now (None: the library's defaults); a missing or unusable key,
        or no key at all without ``-K``, is a one-line error."""
        if args.keys:
            # apssh asks for the passphrase of an encrypted key; so do we, once, on a terminal
            asker = PassphraseAsker()
            try:
                return [key for name in args.keys for key in load_key(name, asker)]
            except click.UsageError as exc:
                raise ApsshFailure(exc.message) from exc
        if not args.ok_if_no_key and not load_private_keys():
            raise ApsshFailure(
                "could not find any usable key (no ssh-agent, no ~/.ssh/id_* "
                "file): give one with -k FILE, or -K to go on without"
            )
        return None

    def make_formatter(self, args: argparse.Namespace) -> Formatter:
        """apssh's precedence: ``-f`` > ``-r`` > ``-tc`` > ``-d`` > ``-o`` > ``host:line``."""
        verbose = bool(args.verbose)
        self.run_name = (
            datetime.datetime.now().strftime("%Y-%m-%d@%H:%M") if args.date_time else args.out_dir
        )
        if args.format:
            return TerminalFormatter(args.format, verbose=verbose)
        if args.raw_format:
            return RawFormatter(verbose=verbose)
        if args.time_colon_format:
            return TimeHostFormatter(verbose=verbose)
        if self.run_name:
            return SubdirFormatter(self.run_name, verbose=verbose)
        return HostFormatter(verbose=verbose)

    def build_proxies(self, args: argparse.Namespace, targets: list[Target]) -> list[SshNode]:
        """One SshNode per target; gateways shared (one node, so one connection, each)."""
        keys = self._keys(args) if args.keys else None
        self.formatter = self.make_formatter(args)
        options: dict[str, Any] = {
            "timeout": args.connect_timeout,
            "debug": bool(args.debug),
            "verbose": bool(args.verbose),
            "host_keys": args.host_keys,
        }
        if keys:
            options["keys"] = keys
        if args.known_hosts:
            options["known_hosts"] = [args.known_hosts]
        gateways: dict[str, SshNode] = {}

        def gateway(target: Target | None) -> SshNode | None:
            if target is None:
                return None
            node = gateways.get(str(target))
            if node is None:
                node = SshNode(
                    target.host,
                    username=target.user,
                    port=target.port,
                    gateway=gateway(target.gateway),
                    formatter=Formatter(verbose=bool(args.verbose)),
                    **options,
                )
                gateways[str(target)] = node
            return node

        try:
            return [
                SshNode(
                    t.host,
                    username=t.user,
                    port=t.port,
                    gateway=gateway(t.gateway),
                    formatter=self.formatter,
                    **options,
                )
                for t in targets
            ]
        except SshJobsError as exc:
            raise ApsshFailure(one_line(exc)) from exc
        except ValueError as exc:  # bad input, e.g. an unknown host-key policy in ssh config
            raise ApsshFailure(one_line(exc), 2) from exc

    def prepare(self, args: argparse.Namespace) -> bool:
        """Resolve the targets into ``self.proxies``; handle ``-L`` and ``-n``. True when the
        command is over (a listing), False when it goes on to run."""
        if args.mark and not (args.out_dir or args.date_time):
            raise ApsshFailure("-m/--mark needs -o DIR or -d (where the marks are written)", 2)
        if args.window < 0:
            raise ApsshFailure(f"-w/--window must be >= 0, not {args.window}")
        if args.connect_timeout <= 0:
            raise ApsshFailure(f"-c/--connect-timeout must be > 0, not {args.connect_timeout:g}")
        if args.host_keys is None and os.environ.get("SSHJOBS_HOST_KEYS"):
            args.host_keys = os.environ["SSHJOBS_HOST_KEYS"]
            if args.host_keys not in HOST_KEY_MODES:
                raise ApsshFailure(
                    f"SSHJOBS_HOST_KEYS={args.host_keys!r}: the host-key policy "
                    f"must be one of {', '.join(HOST_KEY_MODES)}",
                    2,
                )
        targets = self.targets(args)
        if not targets:
            raise ApsshFailure("no target left: every target was excluded by -x")
        self.proxies = self.build_proxies(args, targets)
        if args.debug:
            for proxy in self.proxies:
                print(f"{self.prog}: target {proxy}", file=sys.stderr)
        if args.list_targets:
            for proxy in self.proxies:
                print(proxy)
            return True
        if args.dry_run:
            self.print_dry_run(args, targets)
            return True
        if not args.keys:
            self._keys(args)  # no key at all: one line, before any connection
        if self.run_name:
            try:
                os.makedirs(self.run_name, exist_ok=True)
            except OSError as exc:
                raise ApsshFailure(
                    f"cannot create output directory {self.run_name!r}: {exc.strerror or exc}"
                ) from exc
        return False

    def print_dry_run(self, args: argparse.Namespace, selected: list[Target]) -> None:
        """``-n``: the exclusions, then the selected hosts, connecting to nothing."""
        excludes = [t for spec in args.excludes for t in self._excluded(spec)]
        everything = self.targets(args, with_excludes=False)
        print(f"========== {len(excludes)} excludes found:")
        for target in excludes:
            print(target)
        print(
            f"========== {len(selected)} hostnames selected "
            f"({len(everything) - len(selected)} excluded):"
        )
        for target in selected:
            print(target)

    def _excluded(self, spec: str) -> list[Target]:
        try:
            return read_spec(self._spec(spec))
        except TargetError as exc:
            raise ApsshFailure(str(exc)) from exc

    # -- the run -------------------------------------------------------------------------------
    def check_local(self, commands: Sequence[Any]) -> None:
        """Missing local files (scripts, includes, copied files): one line, nothing run."""
        for command in commands:
            try:
                command.check_local()
            except SshJobsError as exc:
                raise ApsshFailure(one_line(exc)) from exc

    def run_jobs(self, args: argparse.Namespace, make_command: Callable[[SshNode], Any]) -> int:
        """One non-critical SshJob per proxy, all in one scheduler; report; the exit code."""
        assert self.proxies is not None
        jobs = [
            SshJob(proxy, command=make_command(proxy), critical=False) for proxy in self.proxies
        ]
        self.check_local([command for job in jobs for command in job.commands])
        # -w 0 (apssh: no limit) is still bounded by the open-file limit, raised if need be
        window = default_window(len(jobs), args.window or None)
        scheduler = Scheduler(*jobs, jobs_window=window, verbose=bool(args.verbose))
        logger.debug("%d targets, window %d", len(jobs), window)
        state: dict[str, bool] = {}
        try:
            finished = self._run(scheduler, state)
        finally:
            if isinstance(self.formatter, SubdirFormatter):
                self.formatter.close()
        if finished is None:
            print(f"{self.prog}: interrupted", file=sys.stderr)
            return 130
        results = [self.host_result(job) for job in jobs]
        if args.debug:
            for proxy, result in zip(self.proxies, results, strict=False):
                print(f"{self.prog}: {proxy} -> {result}", file=sys.stderr)
        self.after_run(args, results)
        if isinstance(self.formatter, SubdirFormatter) and self.run_name:
            print(self.run_name)
        return 0 if all(result == 0 for result in results) else 1

    @staticmethod
    def _run(scheduler: Scheduler, state: dict[str, bool]) -> bool | None:
        """The run in an event loop of its own: in this thread, or in another one when the
        caller already runs a loop (a notebook, async code), which cannot be nested."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_interruptibly(scheduler, state)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(run_interruptibly, scheduler, state).result()

    def host_result(self, job: SshJob) -> Any:
        """apssh's per-host result: the exit status (last failing one), a signal name, or
        None when the host gave none (unreachable, refused...), said in one stderr line."""
        exception = job.raised_exception()
        if exception is None:
            return job.result()
        host = job.node.hostname
        message = one_line(exception)
        if not message.startswith(f"{host}:"):
            message = f"{host}: {message}"
        print(f"{self.prog}: {message}", file=sys.stderr)
        return None

    def after_run(self, args: argparse.Namespace, results: list[Any]) -> None:
        """``--mark``: ``0ok/HOST`` (holding ``0``) or ``1failed/HOST`` (the exit status, a
        signal name, or ``None`` when the host gave no result); a stale mark of the other kind
        is removed, so that a directory reused across runs says how the last run went."""
        if not args.mark or not self.run_name or self.proxies is None:
            return
        for proxy, result in zip(self.proxies, results, strict=False):
            good, bad = (MARK_OK, MARK_FAILED) if result == 0 else (MARK_FAILED, MARK_OK)
            directory = Path(self.run_name) / good
            directory.mkdir(parents=True, exist_ok=True)
            (directory / proxy.hostname).write_text(f"{result}\n")
            stale = Path(self.run_name) / bad / proxy.hostname
            if stale.exists():
                stale.unlink()
