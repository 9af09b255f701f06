"""``sshjobs pull @:REMOTE... LOCAL``: copy files from every target (SFTP)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import click

from sshjobs.cli.copy_command import copy_command
from sshjobs.cli.engine import display_names
from sshjobs.cli.execute import execute, listed, prepare
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.path_fields import check_fields, expand_fields
from sshjobs.cli.push import remote_path
from sshjobs.cli.sudo_refusal import refuse_sudo
from sshjobs.cli.timed_transfer import bounded
from sshjobs.targets import Target
from sshjobs.transfer import Pull

__all__ = ["pull"]

_PER_HOST_FIELDS = {"host", "fqdn", "name", "port", "target"}


def _written_paths(local: str, sources: list[str], into_dir: bool) -> list[Path]:
    """The local files (or directories, with -r) a pull into ``local`` creates."""
    if not into_dir:
        return [Path(local).expanduser()]
    return [
        Path(local).expanduser() / PurePosixPath(source.rstrip("/") or ".").name
        for source in sources
    ]


def _sources_and_destination(paths: tuple[str, ...]) -> tuple[list[str], str]:
    """The remote paths (without their ``@:``) and the local one; a usage error unless the
    arguments are one or more remote paths then a local one."""
    if len(paths) < 2 or not all(p.startswith("@:") for p in paths[:-1]):
        raise click.UsageError(
            "usage: sshjobs pull [OPTIONS] @:REMOTE... LOCAL (remote paths start with @:)"
        )
    if paths[-1].startswith("@:"):
        raise click.UsageError(f"the destination {paths[-1]!r} must be local (no @:)")
    return [remote_path(p) for p in paths[:-1]], paths[-1]


def _check_one_local_path_per_host(
    targets: list[Target], destination: str, fields: set[str], into_dir: bool, config: list[str]
) -> None:
    """A usage error when two targets would write the same local path: several hosts and no
    per-host field in it, or fields that expand alike for two targets."""
    example = destination.rstrip("/") + "/{host}/" if into_dir else destination + ".{host}"
    if len(targets) > 1 and not fields & _PER_HOST_FIELDS:
        raise click.UsageError(
            f"{len(targets)} hosts would write the same local "
            f"path {destination!r}: put {{host}} in it, e.g. {example}"
        )
    written: dict[str, str] = {}
    for target, name in zip(targets, display_names(targets), strict=False):
        local = expand_fields(destination, target, name, config)
        if local in written:
            raise click.UsageError(
                f"{written[local]} and {name} would both write {local!r}: "
                f"use {{name}} (unique per target) in the local path"
            )
        written[local] = name


def _refuse_overwrites(
    targets: list[Target],
    sources: list[str],
    destination: str,
    into_dir: bool,
    config: list[str],
) -> None:
    """A usage error, before any connection, if a local file the pull would write exists."""
    for target, name in zip(targets, display_names(targets), strict=False):
        local = expand_fields(destination, target, name, config)
        remote = [expand_fields(s, target, name, config) for s in sources]
        for path in _written_paths(local, remote, into_dir):
            if path.exists():
                raise click.UsageError(
                    f"{str(path)!r} exists: pull does not replace "
                    f"local files (use --force to replace them)"
                )


@copy_command("@:REMOTE... LOCAL", "Copy files from every target to local paths (SFTP).")
@click.option("--force", is_flag=True, help="replace local files that already exist")
def pull(
    paths: tuple[str, ...], recursive: bool, no_preserve: bool, force: bool, **params: Any
) -> int:
    """Copy REMOTE files (directories with -r) from every target into LOCAL.

    \b
    Paths may use {host}, {fqdn}, {user}, {port}, {name} and {target},
    expanded per target, so that files from different hosts do not
    overwrite each other. Existing local files are never replaced, unless
    --force is given. Directories above a LOCAL path holding a field are
    created as needed.

    \b
    Examples:
      sshjobs pull -t fit[01-10] @:/var/log/syslog logs/{host}.log
      sshjobs pull -t @web @:/etc/nginx/nginx.conf @:/etc/hosts conf/{host}/
      sshjobs pull -r -t node[1-4] @:results/ out/{host}/
      sshjobs pull --force -t node1 @:/etc/motd motd.txt
    """
    refuse_sudo(params)
    if listed(params):
        return 0
    sources, destination = _sources_and_destination(paths)
    for source in sources:
        check_fields(source, "remote path")
    fields = check_fields(destination, "local path")
    settings = prepare(params)
    config = settings.config_paths()  # -F and -O apply to {fqdn}, {port}, {user}
    into_dir = destination.endswith("/") or len(sources) > 1 or os.path.isdir(destination)
    _check_one_local_path_per_host(settings.targets, destination, fields, into_dir, config)
    if not force:
        _refuse_overwrites(settings.targets, sources, destination, into_dir, config)
    if not fields:
        parent = Path(destination).expanduser()
        parent = parent if into_dir else parent.parent
        if not parent.is_dir():
            raise click.UsageError(f"no such local directory: {str(parent)!r}")

    def make_commands(target: Target, outcome: HostOutcome) -> list[Any]:
        local = Path(expand_fields(destination, target, outcome.name, config)).expanduser()
        if fields:
            (local if into_dir else local.parent).mkdir(parents=True, exist_ok=True)
        remote = [expand_fields(s, target, outcome.name, config) for s in sources]
        return [
            bounded(
                Pull(remote, str(local), recurse=recursive, preserve=not no_preserve),
                settings.timeout,
            )
        ]

    return execute(settings, make_commands)
