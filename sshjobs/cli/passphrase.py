"""Passphrase-protected keys on the command line: asked for once, on the terminal, no echo.

``-i`` keys that need a passphrase are decrypted with one typed at the terminal (one prompt
serves every such key); without a terminal, one line says what to do instead. Default keys
(``~/.ssh/id_*``) that need one and that no ssh-agent holds are asked for the same way on a
terminal; without one they are skipped and named if authentication fails (other keys may
well be the ones that work).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sshjobs.errors import KeyLoadError
from sshjobs.keys import default_keys, explicit_keys, load_agent_keys

__all__ = ["PassphraseAsker", "default_keys_passphrase"]


class PassphraseAsker:
    """Asks for a passphrase at most once per command (and keeps the answer)."""

    def __init__(self) -> None:
        self.passphrase: str | None = None

    def ask(self, what: str) -> str:
        if self.passphrase is None:
            self.passphrase = click.prompt(
                f"Passphrase for {what}",
                hide_input=True,
                err=True,
                show_default=False,
                default="",
                type=str,
            )
        return self.passphrase


def load_key(name: str, asker: PassphraseAsker) -> list[Any]:
    """One ``-i`` key file, decrypted with a passphrase asked on the terminal when it needs
    one; UsageError (one line) when it cannot be used."""
    path = str(Path(name).expanduser())
    try:
        return explicit_keys([path], asker.passphrase).keys
    except KeyLoadError as exc:
        if "passphrase-protected" not in str(exc):
            raise click.UsageError(f"cannot use key {name!r}: {exc}") from exc
        if not sys.stdin.isatty():
            raise click.UsageError(
                f"key {name!r} is passphrase-protected and standard input "
                f"is not a terminal to ask for it: add it to an ssh-agent "
                f"(ssh-add {name})"
            ) from exc
    try:
        return explicit_keys([path], asker.ask(name)).keys
    except KeyLoadError as exc:
        raise click.UsageError(f"cannot use key {name!r}: {exc}") from exc


def _held_by_agent(path: str, agent_keys: list[Any]) -> bool:
    """Whether an agent key is the one of ``path`` (by its ``.pub`` file)."""
    import asyncssh

    try:
        public = asyncssh.read_public_key(path + ".pub")
    except (OSError, asyncssh.KeyImportError):
        return False
    return any(key.public_data == public.public_data for key in agent_keys)


def default_keys_passphrase(asker: PassphraseAsker) -> str | None:
    """The passphrase for the default keys, asked on a terminal when one of them needs it and
    no ssh-agent holds it; None otherwise."""
    encrypted = default_keys().encrypted
    if not encrypted or not sys.stdin.isatty():
        return None
    agent_keys = load_agent_keys()
    missing = [path for path in encrypted if not _held_by_agent(path, agent_keys)]
    if not missing:
        return None
    passphrase = asker.ask(", ".join(missing))
    if len(default_keys(passphrase).encrypted) == len(encrypted):
        raise click.UsageError(f"the passphrase does not decrypt {', '.join(missing)}")
    return passphrase
