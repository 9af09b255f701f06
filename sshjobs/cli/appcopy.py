"""``Appush`` / ``Appull``: apssh's copy commands on our engine.

``appush [options] LOCAL... @:REMOTE`` and ``appull [options] @:REMOTE... LOCAL``: remote paths
start with ``@:`` (a bare ``@:`` is the remote home directory); ``{host}``, ``{fqdn}`` and
``{user}`` in any path are expanded per target (``{user}`` is ``user@``, as in apssh).
Directories are copied recursively. One non-critical job per target; exit code 0 when every
host copied everything, else 1.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

from sshjobs.cli.apssh_base import ApsshBase, ApsshFailure
from sshjobs.formatters import short_hostname
from sshjobs.node import SshNode
from sshjobs.transfer import Pull, Push

__all__ = ["PATH_FIELDS", "Appull", "Appush", "expand_path"]

#: the fields of apssh's copy paths
PATH_FIELDS = ("host", "fqdn", "user")


def remote_path(word: str) -> str:
    """``@:/tmp/x`` → ``/tmp/x``; a bare ``@:`` is the remote home directory."""
    return word[2:] or "."


def path_fields(template: str) -> set[str]:
    """The fields a path uses; ApsshFailure for an unknown one or a stray brace."""
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as exc:
        raise ApsshFailure(
            f"bad path {template!r}: {exc} (write {{{{ and }}}} for literal braces)"
        ) from exc
    unknown = fields - set(PATH_FIELDS)
    if unknown:
        raise ApsshFailure(
            f"unknown field {{{sorted(unknown)[0]}}} in {template!r}; fields "
            f"are {{host}}, {{fqdn}} and {{user}}"
        )
    return fields


def expand_path(template: str, proxy: SshNode) -> str:
    """``logs/{host}.log`` → ``logs/fit01.log`` for that node (``{user}`` → ``root@``)."""
    user = f"{proxy.username}@" if proxy.username else ""
    return template.format_map(
        {"host": short_hostname(proxy.hostname), "fqdn": proxy.hostname, "user": user}
    )


class _Copy(ApsshBase):
    """Shared by appush and appull: the PATHS argument."""

    usage_paths = ""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("paths", nargs="*", metavar=self.usage_paths)

    def usage(self) -> ApsshFailure:
        return ApsshFailure(
            f"usage: {self.prog} -t TARGETS [options] {self.usage_paths} "
            f"(remote paths start with @:)"
        )


class Appush(_Copy):
    """Copy local files to many hosts at once over SSH (apssh's appush grammar)."""

    default_prog = "appush"
    usage_paths = "LOCAL... @:REMOTE"

    def run_main(self, args: argparse.Namespace) -> int:
        paths = args.paths
        if len(paths) < 2 or not paths[-1].startswith("@:"):
            raise self.usage()
        sources, destination = paths[:-1], remote_path(paths[-1])
        for source in sources:
            if source.startswith("@:"):
                raise ApsshFailure(
                    f"{source!r}: only the destination is remote in appush "
                    f"(appull copies from the hosts)"
                )
            path_fields(source)
        path_fields(destination)
        if self.prepare(args):
            return 0

        def push(proxy: SshNode) -> Push:
            local = [str(Path(expand_path(s, proxy)).expanduser()) for s in sources]
            return Push(local, expand_path(destination, proxy))

        return self.run_jobs(args, push)


class Appull(_Copy):
    """Copy files from many hosts at once over SSH (apssh's appull grammar)."""

    default_prog = "appull"
    usage_paths = "@:REMOTE... LOCAL"

    def run_main(self, args: argparse.Namespace) -> int:
        paths = args.paths
        if len(paths) < 2 or not all(p.startswith("@:") for p in paths[:-1]):
            raise self.usage()
        if paths[-1].startswith("@:"):
            raise ApsshFailure(f"the destination {paths[-1]!r} must be local (no @:)")
        sources, destination = [remote_path(p) for p in paths[:-1]], paths[-1]
        for source in sources:
            path_fields(source)
        fields = path_fields(destination)
        if self.prepare(args):
            return 0
        assert self.proxies is not None
        into_dir = len(sources) > 1 or destination.endswith("/")
        writers: dict[str, str] = {}
        for proxy in self.proxies:  # every local place checked before connecting anywhere
            local = Path(expand_path(destination, proxy)).expanduser()
            if fields:
                try:
                    (local if into_dir else local.parent).mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise ApsshFailure(
                        f"cannot create local directory for {str(local)!r}: {exc.strerror or exc}"
                    ) from exc
            if into_dir and not local.is_dir():
                raise ApsshFailure(
                    f"several remote files need an existing local directory, not {str(local)!r}"
                )
            if not local.parent.is_dir():
                raise ApsshFailure(f"no such local directory: {str(local.parent)!r}")
            written = (
                [str(local / Path(s).name) for s in sources] if local.is_dir() else [str(local)]
            )
            for path in written:
                if path in writers:
                    raise ApsshFailure(
                        f"{writers[path]} and {proxy.hostname} would both write "
                        f"{path!r}: put {{host}} in the local path, e.g. "
                        f"{destination.rstrip('/')}/{{host}}/"
                    )
                writers[path] = proxy.hostname

        def pull(proxy: SshNode) -> Pull:
            remote = [expand_path(s, proxy) for s in sources]
            return Pull(remote, str(Path(expand_path(destination, proxy)).expanduser()))

        return self.run_jobs(args, pull)
