"""The click group without network: targets dry run, version, help, one-line usage errors."""

import resource

import pytest
from fixtures.cli import sshjobs

from sshjobs import __version__
from sshjobs.cli import ExitCode, cli
from sshjobs.cli.exit import exit_code_for
from sshjobs.cli.options import Secret, default_window


def test_targets_prints_expanded_list():
    result = sshjobs(
        "targets", "-t", "fit[01-04]", "-x", "fit02", "-l", "me", "-g", "gw", "-t", "None->solo"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "me@gw->me@fit01",
        "me@gw->me@fit03",
        "me@gw->me@fit04",
        "None->me@solo",
    ]
    assert result.stderr == ""


def test_targets_fold_and_count():
    assert (
        sshjobs("targets", "-t", "fit[01-09]", "-x", "fit05", "--fold").stdout
        == "fit[01-04,06-09]\n"
    )
    assert sshjobs("targets", "-t", "fit[01-09]", "--count").stdout == "9\n"


def test_targets_does_not_advertise_listing_but_accepts_it():
    assert "--list-targets" not in sshjobs("targets", "--help").stdout
    assert "--list-targets" in sshjobs("run", "--help").stdout
    assert sshjobs("targets", "-L", "-t", "h[1-2]").stdout == "h1\nh2\n"


def test_targets_output_is_reusable_as_a_target_file(tmp_path):
    first = sshjobs("targets", "-t", "a->b@c:2200,d", "-t", "None->e", "-g", "gw")
    listing = tmp_path / "list"
    listing.write_text(first.stdout)
    again = sshjobs("targets", "-t", str(listing))
    assert again.stdout == first.stdout


def test_version_and_help_show_exit_table():
    assert sshjobs("--version").stdout == f"sshjobs {__version__}\n"
    assert sshjobs("-V").exit_code == 0
    helptext = sshjobs("--help").stdout
    for code in ExitCode:
        assert f"{int(code):>5}  " in helptext


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["targets"], "no target"),
        (["targets", "-t", "fit[05-01]"], "05 is greater than 01"),
        (["targets", "-t", "a,b", "-x", "a", "-x", "b"], "-x excluded all 2 targets"),
        (["targets", "--no-such-option"], "No such option"),
        (["targets", "-t", "./missing-file"], "no such target file"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, fragment):
    result = sshjobs(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert lines[0].startswith("sshjobs")


def test_exit_code_precedence():
    E = ExitCode
    assert exit_code_for([]) == E.OK
    assert exit_code_for([E.OK, E.OK]) == E.OK
    assert exit_code_for([E.OK, E.FAILED]) == E.FAILED
    assert exit_code_for([E.FAILED, E.UNREACHABLE]) == E.UNREACHABLE
    assert exit_code_for([E.UNREACHABLE, E.TIMEOUT, E.FAILED]) == E.TIMEOUT
    assert exit_code_for([E.TIMEOUT, E.INTERRUPTED]) == E.INTERRUPTED
    assert len({int(c) for c in ExitCode}) == len(ExitCode)


def test_secret_never_shows():
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret} {[secret]}"
    assert secret.reveal() == "hunter2"


def test_default_window_within_open_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert default_window(10) == 10
        assert default_window(10, requested=4) == 4
        big = default_window(100_000)
        now_soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert 1 <= big < 100_000 or now_soft >= 100_000 * 3
        assert big * 3 + 64 <= now_soft  # what it promises fits in the (raised) limit
        assert now_soft >= 256  # raised toward the hard limit when needed, never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_unusable_key_file_is_a_usage_error(tmp_path):
    bogus = tmp_path / "not-a-key"
    bogus.write_text("hello\n")
    for key in (bogus, tmp_path / "missing-key"):
        result = sshjobs("run", "-i", str(key), "-t", "127.0.0.1:1", "--", "true")
        assert result.exit_code == 2
        [line] = result.stderr.splitlines()
        assert str(key.name) in line and line.startswith("sshjobs run: ")


def test_unreadable_target_file_is_a_usage_error(tmp_path):
    garbage = tmp_path / "hosts"
    garbage.write_bytes(b"\xff\xfe\x00")
    result = sshjobs("run", "-t", str(garbage), "--", "true")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "cannot read target file" in line


def test_in_process_runs_leave_logging_as_it_was():
    import logging

    before = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in ("sshjobs", "asynciojobs")
    }
    sshjobs("-D", "targets", "-t", "a")
    sshjobs("targets", "-t", "fit[05-01]")
    after = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in ("sshjobs", "asynciojobs")
    }
    assert after == before


def test_subcommands_of_other_parts_are_registered_when_their_module_exists():
    import importlib.util

    import click

    listed = set(cli.list_commands(click.Context(cli)))
    assert {"run", "push", "pull", "targets"} <= listed
    for module, name in (
        ("sshjobs.cli.sandbox", "sandbox"),
        ("sshjobs.cli.demo", "demo"),
        ("sshjobs.cli.scenario", "scenario"),
    ):
        assert (name in listed) == (importlib.util.find_spec(module) is not None), name


def test_a_subcommand_loads_only_its_own_code():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from sshjobs.cli.main import cli\n"
        "cli.main(['targets', '-t', 'h[1-2]'], standalone_mode=False)\n"
        "print(sorted(m for m in ('sshjobs.scenario', 'sshjobs.sandbox', 'sshjobs.demo',"
        " 'sshjobs.cli.run') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.splitlines() == ["h1", "h2", "[]"]


def test_pull_refuses_two_targets_expanding_to_one_local_path(tmp_path):
    result = sshjobs("pull", "-t", "h:2201,h:2202", "@:/etc/motd", str(tmp_path / "{host}"))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "h:2201 and h:2202 would both write" in line and "{name}" in line


def test_no_arguments_shows_help():
    result = sshjobs()
    assert result.exit_code == 0
    assert "Usage: sshjobs" in result.stdout and "Exit codes" in result.stdout


@pytest.mark.parametrize("command", ["run", "push", "pull", "scenario"])
def test_subcommand_help_shows_exit_table_within_80_columns(command):
    result = sshjobs(command, "--help", terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "Exit codes:" in result.stdout
    for code in ExitCode:
        assert f"{int(code):>5}  " in result.stdout
    too_long = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert too_long == []


def test_copies_do_not_offer_the_sudo_options_they_refuse():
    assert "--sudo" in sshjobs("run", "--help").stdout
    for command in ("push", "pull"):
        assert "sudo" not in sshjobs(command, "--help").stdout
        result = sshjobs(command, "--ask-sudo-pass", "-t", "h", "f", "@:/tmp/")
        assert result.exit_code == 2
        assert "are for sshjobs run" in result.stderr


def test_command_list_summaries_are_not_cut():
    listing = sshjobs("--help", terminal_width=80).stdout.split("Commands:")[1]
    assert "..." not in listing.split("Exit codes:")[0]
