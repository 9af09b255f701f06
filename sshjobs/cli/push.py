"""``sshjobs push LOCAL... @:REMOTE``: copy local files to every target (SFTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sshjobs.cli.copy_command import copy_command
from sshjobs.cli.engine import display_names
from sshjobs.cli.execute import execute, listed, prepare
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.path_fields import check_fields, expand_fields
from sshjobs.cli.sudo_refusal import refuse_sudo
from sshjobs.cli.timed_transfer import bounded
from sshjobs.targets import Target
from sshjobs.transfer import Push

__all__ = ["push", "remote_path"]


def remote_path(word: str) -> str:
    """``@:/tmp/x`` → ``/tmp/x``; a bare ``@:`` is the remote home directory."""
    return word[2:] or "."


@copy_command("LOCAL... @:REMOTE", "Copy local files to every target (SFTP).")
def push(paths: tuple[str, ...], recursive: bool, no_preserve: bool, **params: Any) -> int:
    """Copy LOCAL files (directories with -r) to REMOTE on every target.

    Paths may use {host}, {fqdn}, {user}, {port}, {name} and {target},
    expanded per target. A bare @: is the remote home directory.

    \b
    Examples:
      sshjobs push -t fit[01-10] conf/{host}.conf @:/etc/app.conf
      sshjobs push -g gw -t node[1-8] build.tgz setup.sh @:/tmp/
      sshjobs push -r -t @web site/ @:/var/www/
    """
    refuse_sudo(params)
    if listed(params):
        return 0
    if len(paths) < 2 or not paths[-1].startswith("@:"):
        raise click.UsageError(
            "usage: sshjobs push [OPTIONS] LOCAL... @:REMOTE (the destination starts with @:)"
        )
    sources, destination = list(paths[:-1]), remote_path(paths[-1])
    for source in sources:
        if source.startswith("@:"):
            raise click.UsageError(
                f"{source!r}: only the destination is remote in a push "
                f"(use sshjobs pull to copy from the hosts)"
            )
        check_fields(source, "local path")
    check_fields(destination, "remote path")
    settings = prepare(params)
    config = settings.config_paths()  # -F and -O apply to {fqdn}, {port}, {user}
    names = dict(zip(map(str, settings.targets), display_names(settings.targets), strict=False))
    for target in settings.targets:  # every local file must exist before connecting anywhere
        for source in sources:
            local = Path(expand_fields(source, target, names[str(target)], config)).expanduser()
            if not local.exists():
                raise click.UsageError(f"no such local file: {str(local)!r}")
            if local.is_dir() and not recursive:
                raise click.UsageError(f"{str(local)!r} is a directory (use -r)")

    def make_commands(target: Target, outcome: HostOutcome) -> list[Any]:
        local = [
            str(Path(expand_fields(s, target, outcome.name, config)).expanduser()) for s in sources
        ]
        return [
            bounded(
                Push(
                    local,
                    expand_fields(destination, target, outcome.name, config),
                    recurse=recursive,
                    preserve=not no_preserve,
                ),
                settings.timeout,
            )
        ]

    return execute(settings, make_commands)
