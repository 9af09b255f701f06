"""Every subcommand's --help shows examples; `sshjobs completion SHELL` gives a working
completion script (click's), for bash, zsh and fish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.cli import sshjobs

SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))


@pytest.mark.parametrize("command", ["run", "push", "pull", "targets", "scenario", "completion"])
def test_every_help_has_examples_within_80_columns(command):
    result = sshjobs(command, "--help", terminal_width=80)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"sshjobs {command}" in result.stdout.split("Examples:")[1] or command == "completion"
    assert [line for line in result.stdout.splitlines() if len(line) > 80] == []


def test_run_help_says_options_stop_at_the_command_and_g_is_the_gateway():
    text = " ".join(sshjobs("run", "--help").stdout.split())
    assert "everything after it, even --timeout, goes to the remote command" in text
    assert "Not clush's -g: groups are -t @NAME" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_and_completing_a_subcommand(shell):
    script = subprocess.run(
        [SSHJOBS, "completion", shell], capture_output=True, text=True, timeout=60
    )
    assert script.returncode == 0, script.stderr
    assert f"_SSHJOBS_COMPLETE={shell}_complete" in script.stdout
    env = {
        **os.environ,
        "_SSHJOBS_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": "sshjobs ru",
        "COMP_CWORD": "ru" if shell == "fish" else "1",
    }  # fish passes the current word
    completed = subprocess.run([SSHJOBS], env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    assert "run" in completed.stdout


def test_completion_refuses_an_unknown_shell():
    result = sshjobs("completion", "tcsh")
    assert result.exit_code == 2 and "tcsh" in result.stderr
