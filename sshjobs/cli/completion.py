"""``sshjobs completion SHELL``: the script that makes the shell complete sshjobs commands.

Completion itself is click's (subcommands, options, choices, file names); this command only
prints the shell's activation script, so that users need not know click's environment variable.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

__all__ = ["completion"]

SHELLS = ("bash", "zsh", "fish")


@click.command(short_help="Print the shell completion script (bash, zsh, fish).")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the completion script of SHELL for sshjobs; load it from the shell's start-up.

    \b
    Examples:
      bash:  eval "$(sshjobs completion bash)"           # in ~/.bashrc
      zsh:   eval "$(sshjobs completion zsh)"            # in ~/.zshrc
      fish:  sshjobs completion fish > ~/.config/fish/completions/sshjobs.fish
    """
    from sshjobs.cli.main import cli  # the command whose words are completed

    completer = get_completion_class(shell)
    assert completer is not None  # the three shells of SHELLS are click's own
    click.echo(completer(cli, {}, "sshjobs", "_SSHJOBS_COMPLETE").source())
    return 0
