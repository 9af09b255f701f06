"""Driving ``run``, ``push`` and ``pull`` once their options are parsed: validation into
settings, ``-L`` listing, and one run on every target to an exit code."""

from __future__ import annotations

import logging
from typing import Any

from sshjobs.cli.engine import CommandFactory, display_names, run_on_targets
from sshjobs.cli.exit import ExitCode
from sshjobs.cli.observe import Observers
from sshjobs.cli.options import Settings, ask_sudo_password, make_settings
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.output_setup import make_fanout, print_out_dir
from sshjobs.cli.targets import print_targets

__all__ = ["execute", "listed", "prepare"]

logger = logging.getLogger("sshjobs.cli.execute")


def prepare(params: dict[str, Any]) -> Settings:
    """Validate options into settings (exit 2 on bad input); ask the sudo password if asked."""
    settings = make_settings(params)
    if params.get("ask_sudo_pass") and not params.get("list_targets"):
        settings.sudo_password = ask_sudo_password()
    return settings


def listed(params: dict[str, Any]) -> bool:
    """``-L``/``-n``: print the targets (the options validated as for a run); True if done."""
    if not params.get("list_targets"):
        return False
    print_targets(prepare(params).targets)
    return True


def execute(settings: Settings, make_commands: CommandFactory) -> int:
    """Run on every target with the chosen output mode; the process exit code."""
    names = display_names(settings.targets)
    keep = bool(
        settings.output.get("gather")
        or settings.output.get("json_lines")
        or settings.output.get("diff")
    )
    outcomes = [
        HostOutcome(target=target, name=name, keep_output=keep)
        for target, name in zip(settings.targets, names, strict=False)
    ]
    observers = Observers(settings.output)
    fanout = make_fanout(settings, len(outcomes), observers)
    logger.debug("%d targets, window %d", len(outcomes), settings.window)
    code = run_on_targets(settings, make_commands, fanout, outcomes, observers)
    print_out_dir(settings)
    if code == ExitCode.INTERRUPTED:
        unfinished = [o.name for o in outcomes if o.code == ExitCode.INTERRUPTED]
        logger.debug("interrupted; %d hosts had not finished", len(unfinished))
    return int(code)
