"""``sshjobs sandbox up N / status / down``: local SSH nodes in a background process.

The nodes are served by :mod:`sshjobs.sandbox.daemon`; their files (key, known_hosts, targets,
ssh_config) live in the sandbox directory: ``--dir``, else ``$SSHJOBS_SANDBOX_DIR``, else
``~/.local/state/sshjobs/sandbox``.
"""

from __future__ import annotations

from pathlib import Path

import click

from sshjobs.sandbox import SandboxError
from sshjobs.sandbox.daemon import (
    RunningSandbox,
    default_directory,
    find_running,
    start_background,
    stop_background,
)

__all__ = ["sandbox"]

_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="sandbox directory [default: $SSHJOBS_SANDBOX_DIR or ~/.local/state/sshjobs/sandbox]",
)


def _directory(directory: Path | None) -> Path:
    return (directory or default_directory()).absolute()


def _describe(running: RunningSandbox) -> None:
    layout = running.layout
    behind = " behind a gateway" if running.gateway else ""
    nodes = [node for node in running.nodes if not node.is_gateway]
    click.echo(f"sandbox: {len(nodes)} node(s){behind}, served by pid {running.pid}")
    for node in running.nodes:
        click.echo(f"  {node.name:<8} {node.target:<22} home {node.home}")
    click.echo(f"targets:     {layout.targets}")
    click.echo(f"key:         {layout.client_key}")
    click.echo(f"known_hosts: {layout.known_hosts}")
    click.echo(f"ssh config:  {layout.ssh_config}   (ssh -F {layout.ssh_config} node1)")
    click.echo(
        f"environment: {layout.env_file}   (. {layout.env_file}; sshjobs run -t "
        f"$SSHJOBS_SANDBOX_TARGETS -- hostname)"
    )
    click.echo(
        f"try:  sshjobs run -t {layout.targets} -k {layout.client_key} "
        f"--known-hosts {layout.known_hosts} -- pwd"
    )


@click.group(short_help="Local SSH nodes (loopback only) to try sshjobs on.")
def sandbox() -> None:
    """Local SSH nodes (loopback only) to try sshjobs on: no remote host, no sshd, no root."""


@sandbox.command(short_help="Start N nodes and a gateway in the background.")
@click.argument("count", metavar="N", type=int)
@click.option(
    "-p",
    "--port",
    "base_port",
    type=int,
    default=None,
    metavar="PORT",
    help="gateway on PORT, node i on PORT+i [default: free ports]",
)
@_dir_option
def up(count: int, base_port: int | None, directory: Path | None) -> None:
    """Start N nodes (1..200) and a gateway in the background; print how to use them."""
    try:
        running = start_background(_directory(directory), count, base_port)
    except SandboxError as exc:
        raise click.ClickException(f"sandbox up: {exc}") from exc
    _describe(running)


@sandbox.command()
@_dir_option
def status(directory: Path | None) -> None:
    """Show the running sandbox and its files; exit 1 when none runs."""
    where = _directory(directory)
    try:
        running = find_running(where)
    except SandboxError as exc:
        raise click.ClickException(f"sandbox status: {exc}") from exc
    if running is None:
        dir_option = "" if where == default_directory().absolute() else f" --dir {where}"
        raise click.ClickException(
            f"sandbox status: no sandbox running in {where} "
            f"(start one with 'sshjobs sandbox up N{dir_option}')"
        )
    _describe(running)


@sandbox.command(short_help="Stop the sandbox started by 'up'; clear its state.")
@_dir_option
def down(directory: Path | None) -> None:
    """Stop the sandbox started by 'up' (that process only) and clear its state."""
    where = _directory(directory)
    try:
        stopped = stop_background(where)
    except (SandboxError, OSError) as exc:
        raise click.ClickException(f"sandbox down: {exc}") from exc
    if stopped is None:
        click.echo(f"sandbox: nothing was running in {where} (state cleared)")
    else:
        click.echo(f"sandbox: stopped pid {stopped.pid} ({len(stopped.nodes)} nodes)")
