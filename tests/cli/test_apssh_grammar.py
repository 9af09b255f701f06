"""apssh's command lines (``Apssh``, ``Appush``, ``Appull``): grammar, defaults and bad input,
checked without connecting anywhere (-L / -n, or errors raised before any connection)."""

from __future__ import annotations

import getpass
import subprocess
import sys

import pytest
from fixtures.cli import sshjobs

from sshjobs.cli import Appull, Appush, Apssh


def listed(*argv):
    """The proxies of an ``apssh -L`` run, as ``str(proxy)``; the run must succeed."""
    apssh = Apssh()
    assert apssh.main("-L", *argv) == 0
    return apssh, [str(proxy) for proxy in apssh.proxies]


def test_public_names_of_the_cli_package_import():
    import sshjobs.cli

    missing = [name for name in sshjobs.cli.__all__ if not hasattr(sshjobs.cli, name)]
    assert missing == []


def test_importing_the_cli_does_not_load_the_apssh_modules():
    probe = (
        "import sys, sshjobs.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('sshjobs.cli.ap')))\n"
        "from sshjobs.cli import Apssh\n"
        "print(Apssh.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.splitlines() == ["[]", "sshjobs.cli.apssh"]


def test_login_defaults_to_the_local_user(capsys):
    apssh, proxies = listed("-t", "fit01,fit02", "hostname")
    user = getpass.getuser()
    assert proxies == [f"{user}@fit01", f"{user}@fit02"]
    assert [p.username for p in apssh.proxies] == [user, user]
    assert capsys.readouterr().out.splitlines() == proxies


def test_targets_split_on_commas_and_whitespace_and_repeat():
    _, proxies = listed("-l", "root", "-t", "a,b c\td", "-t", "e\nf")
    assert proxies == [f"root@{h}" for h in "abcdef"]


def test_per_target_user_and_gateway_arrows():
    apssh, proxies = listed("-l", "joe", "-t", "gw->x", "-t", "admin@gw2→root@y")
    assert proxies == ["joe@gw->joe@x", "admin@gw2->root@y"]
    assert apssh.proxies[0].gateway.hostname == "gw"
    assert apssh.proxies[1].gateway.username == "admin"


def test_default_gateway_shared_and_none_bypasses_it():
    apssh, proxies = listed("-l", "root", "-g", "faraday", "-t", "fit01 fit02 None->direct")
    assert proxies == ["root@faraday->root@fit01", "root@faraday->root@fit02", "root@direct"]
    first, second, direct = apssh.proxies
    assert first.gateway is second.gateway  # one node, hence one connection
    assert direct.gateway is None


def test_gateway_user_of_its_own():
    _, proxies = listed("-l", "root", "-g", "slice@faraday", "-t", "fit01")
    assert proxies == ["slice@faraday->root@fit01"]


def test_targets_file_directory_and_apssh_dir(tmp_path, monkeypatch):
    listing = tmp_path / "nodes.txt"
    listing.write_text("# the nodes\nfit01 fit02\nfit03,fit04\n")
    marks = tmp_path / "run" / "1failed"
    marks.mkdir(parents=True)
    for name in ("fit07", "fit05"):
        (marks / name).write_text("1\n")
    home = tmp_path / "home"
    (home / ".apssh").mkdir(parents=True)
    (home / ".apssh" / "rack").write_text("fit09\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    _, proxies = listed("-l", "root", "-t", str(listing), "-t", str(marks), "-t", "rack")
    assert proxies == [f"root@fit0{i}" for i in (1, 2, 3, 4, 5, 7, 9)]


def test_exclusions_whatever_their_order(tmp_path):
    excluded = tmp_path / "broken"
    excluded.write_text("fit02\n")
    _, proxies = listed("-l", "root", "-x", str(excluded), "-t", "fit01,fit02,fit03", "-x", "fit03")
    assert proxies == ["root@fit01"]


def test_dry_run_counts_exclusions_and_connects_nowhere(capsys):
    apssh = Apssh()
    assert apssh.main("-n", "-l", "root", "-t", "fit01,fit02,fit03", "-x", "fit02", "hostname") == 0
    assert capsys.readouterr().out.splitlines() == [
        "========== 1 excludes found:",
        "fit02",
        "========== 2 hostnames selected (1 excluded):",
        "root@fit01",
        "root@fit03",
    ]
    assert not any(proxy.is_connected() for proxy in apssh.proxies)


def test_main_accepts_one_list_of_words():
    apssh = Apssh()
    assert apssh.main(["-L", "-l", "root", "-t", "h1"]) == 0
    assert [str(p) for p in apssh.proxies] == ["root@h1"]


def test_command_is_the_remainder_options_after_it_included():
    apssh = Apssh()
    parsed = apssh.parser().parse_args(["-t", "h", "-tc", "ls", "-l", "-t", "/tmp"])
    assert parsed.time_colon_format and parsed.commands == ["ls", "-l", "-t", "/tmp"]
    assert parsed.targets == ["h"] and parsed.login is None


def test_script_mode_picks_runscript_for_a_file_else_runstring(tmp_path):
    script = tmp_path / "setup.sh"
    script.write_text("echo $1\n")
    apssh = Apssh()
    parsed = apssh.parser().parse_args(["-s", "-i", str(script), "-t", "h", str(script), "a"])
    command = Apssh.command(parsed)
    assert type(command).__name__ == "RunScript" and command.args == ("a",)
    assert command.includes == [str(script)]
    parsed = apssh.parser().parse_args(["-s", "-t", "h", "echo body $1", "x"])
    command = Apssh.command(parsed)
    assert type(command).__name__ == "RunString"
    assert command.script_body == "echo body $1" and command.args == ("x",)


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        (["hostname"], 1, "no target"),
        (["-t", "h", "-l", "root", "-L", "-x", "h"], 1, "every target was excluded"),
        (["-t", "h", "-m", "hostname"], 2, "-m/--mark needs -o DIR or -d"),
        (["-t", "fit[03-01]", "hostname"], 1, "03 is greater than 01"),
        (["-t", "./no/such/file", "hostname"], 1, "no such target file"),
        (["-t", "h", "-w", "-1", "hostname"], 1, "-w/--window must be >= 0"),
        (["-t", "h", "-k", "/no/such/key", "hostname"], 1, "cannot use key '/no/such/key'"),
    ],
)
def test_bad_input_is_one_line_before_any_connection(capsys, argv, code, fragment):
    apssh = Apssh()
    assert apssh.main(*argv) == code
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("apssh: ") and fragment in line, line
    assert captured.out == ""


def test_unknown_host_key_policy_exit_2(capsys, monkeypatch):
    assert Apssh().main("-L", "-t", "h", "--host-keys", "trust-me") == 2
    assert "invalid choice: 'trust-me'" in capsys.readouterr().err
    monkeypatch.setenv("SSHJOBS_HOST_KEYS", "sometimes")
    assert Apssh().main("-L", "-t", "h") == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "apssh: SSHJOBS_HOST_KEYS='sometimes': the host-key policy must be one of "
        "strict, accept-new, ignore"
    )
    monkeypatch.setenv("SSHJOBS_HOST_KEYS", "ignore")
    apssh = Apssh()
    assert apssh.main("-L", "-t", "h") == 0
    assert apssh.proxies[0].host_key_policy.mode == "ignore"


def test_version_returns_0(capsys):
    from sshjobs import __version__

    assert Apssh().main("-V") == 0
    assert capsys.readouterr().out == f"apssh (sshjobs {__version__})\n"
    assert Appull().main("--version") == 0
    assert capsys.readouterr().out == f"appull (sshjobs {__version__})\n"


def test_grammar_errors_exit_2_like_argparse(capsys):
    assert Apssh().main("-t", "h", "-w", "many", "hostname") == 2
    assert "invalid int value" in capsys.readouterr().err
    assert Apssh().main("-h") == 0
    assert "-tc, --time-colon-format" in capsys.readouterr().out


def test_no_command_and_no_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh at all
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    assert Apssh().main("-t", "h", "hostname") == 1
    assert "could not find any usable key" in capsys.readouterr().err
    assert Apssh().main("-t", "h") == 1  # said before the missing key
    assert capsys.readouterr().err.startswith("apssh: no command")
    # appush and appull understand -K too (apssh's appush crashed on its missing attribute)
    assert Appush().main("-t", "h", "f", "@:") == 1
    assert "could not find any usable key" in capsys.readouterr().err


def test_script_includes_must_exist(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Apssh().main("-K", "-t", "h", "-s", "-i", "missing.sh", "echo $1", "x") == 1
    assert "no such include file: 'missing.sh'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "argv", "fragment"),
    [
        (Appush, ["-t", "h", "file"], "usage: appush -t TARGETS [options] LOCAL... @:REMOTE"),
        (Appush, ["-t", "h", "a", "b"], "remote paths start with @:"),
        (Appush, ["-t", "h", "@:x", "@:y"], "only the destination is remote"),
        (Appull, ["-t", "h", "x", "y"], "usage: appull -t TARGETS [options] @:REMOTE... LOCAL"),
        (Appull, ["-t", "h", "@:x", "@:y"], "must be local (no @:)"),
        (Appull, ["-t", "h", "@:x", "{hostname}"], "unknown field {hostname}"),
        (Appull, ["-t", "h1,h2", "@:/etc/motd", "motd"], "h1 and h2 would both write"),
    ],
)
def test_copy_usage_errors(tmp_path, monkeypatch, capsys, command, argv, fragment):
    monkeypatch.chdir(tmp_path)
    assert command().main("-K", *argv) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert fragment in line, line


def test_push_of_a_missing_local_file_is_refused_before_connecting(tmp_path, capsys):
    assert Appush().main("-K", "-l", "root", "-t", "h", str(tmp_path / "nope"), "@:") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"appush: local file {tmp_path / 'nope'} not found (to push to .)"


def test_sshjobs_subcommands_pass_everything_through():
    result = sshjobs("apssh", "-L", "-l", "root", "-t", "h1,h2", "echo", "--help")
    assert (result.exit_code, result.stdout) == (0, "root@h1\nroot@h2\n")
    result = sshjobs("apssh", "--help")
    assert result.exit_code == 0 and "usage: sshjobs apssh" in result.stdout
    result = sshjobs("appull", "-h")
    assert result.exit_code == 0 and "@:REMOTE... LOCAL" in result.stdout
    result = sshjobs("appush", "-t", "h")
    assert result.exit_code == 1
    assert result.stderr.startswith("sshjobs appush: ")
