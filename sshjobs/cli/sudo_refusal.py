"""Copies are made as the login user: ``push`` / ``pull`` refuse ``--sudo`` in one line."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["refuse_sudo"]


def refuse_sudo(params: dict[str, Any]) -> None:
    """Copies are made as the login user: ``--sudo`` / ``--ask-sudo-pass`` are usage errors."""
    if params.get("sudo") or params.get("ask_sudo_pass"):
        raise click.UsageError(
            "--sudo / --ask-sudo-pass are for sshjobs run: copies are made "
            "as the login user (use -l root)"
        )
