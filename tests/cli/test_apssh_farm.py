"""apssh's command lines (``Apssh().main(...)``, ``Appush``, ``Appull``, ``sshjobs apssh``)
against the real sshd farm.

Host keys: the farm's client HOME has an ssh config naming the farm's known_hosts with
``StrictHostKeyChecking yes``, which the library honours under any default policy; so these
tests check host keys whatever the default is.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.cli import sshjobs_process

from sshjobs.cli import Appull, Appush, Apssh

UNREACHABLE = "root@127.0.0.1:1"


def apssh(*argv):
    """Run ``Apssh().main(*argv)``; the Apssh object and its exit code."""
    command = Apssh()
    return command, command.main(*[str(word) for word in argv])


@pytest.fixture
def names(farm):
    return [h.name for h in farm.direct]


@pytest.fixture
def flag(farm, names):
    """``/tmp/apssh-flag`` exists on the first direct host only (removed afterwards)."""
    path = farm.tmp_of(names[0]) / "apssh-flag"
    path.write_text("")
    yield "/tmp/apssh-flag"
    path.unlink()


def test_targets_file_runs_command_with_host_prefixed_lines(tmp_path, farm, names, capsys):
    listing = tmp_path / "hosts"
    listing.write_text("# direct hosts\n" + "\n".join(names) + "\n")
    command, code = apssh("-l", "root", "-t", listing, "hostname; echo oops >&2")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(captured.out.splitlines()) == sorted(f"{n}:{n}" for n in names)
    assert sorted(captured.err.splitlines()) == sorted(f"{n}:oops" for n in names)
    assert [p.hostname for p in command.proxies] == names
    assert {p.username for p in command.proxies} == {"root"}
    assert not any(p.is_connected() for p in command.proxies)  # closed at the end of the run


def test_exit_1_when_one_host_fails_and_output_of_others_shown(names, flag, capsys):
    _, code = apssh("-l", "root", "-t", ",".join(names), f"test -e {flag} && echo found")
    assert code == 1
    assert capsys.readouterr().out == f"{names[0]}:found\n"


def test_exit_1_and_one_line_for_an_unreachable_host(names, capsys):
    _, code = apssh("-c", "5", "-l", "root", "-t", f"{names[0]},{UNREACHABLE}", "echo up")
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == f" {names[0]} :up\n"  # host column centred to the widest name
    [line] = captured.err.splitlines()
    assert line.startswith("apssh: 127.0.0.1: "), line


def test_marks_and_output_files_then_failed_dir_reused_as_targets(tmp_path, names, flag, capsys):
    out = tmp_path / "pass1"
    _, code = apssh(
        "-o",
        out,
        "-m",
        "-c",
        "5",
        "-l",
        "root",
        "-t",
        f"{names[0]} {names[1]} {UNREACHABLE}",
        f"hostname; test -e {flag}",
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == f"{out}\n"  # output went to the files; the directory is printed
    assert (out / names[0]).read_text() == f"{names[0]}\n"
    assert (out / names[1]).read_text() == f"{names[1]}\n"
    assert (out / "0ok" / names[0]).read_text() == "0\n"
    assert (out / "1failed" / names[1]).read_text() == "1\n"
    assert (out / "1failed" / "127.0.0.1").read_text() == "None\n"
    assert sorted(os.listdir(out / "0ok")) == [names[0]]
    # the failed ones again, from the marks directory; the fixed host moves to 0ok
    retry, code = apssh(
        "-o", out, "-m", "-c", "5", "-l", "root", "-t", out / "1failed", "-x", "127.0.0.1", "true"
    )
    assert code == 0, capsys.readouterr().err
    assert [p.hostname for p in retry.proxies] == [names[1]]
    assert sorted(os.listdir(out / "0ok")) == sorted(names[:2])
    assert os.listdir(out / "1failed") == ["127.0.0.1"]


def test_gateway_arrow_and_default_gateway_share_one_connection(farm, names, capsys):
    count = len(farm.private)
    private = [h.name for h in farm.private]
    before = farm.accepted_connections(farm.gateway)
    command, code = apssh(
        "-l",
        "root",
        "-g",
        "gateway",
        "-t",
        " ".join(private[1:]),
        "-t",
        f"gateway→{private[0]}",
        "-t",
        f"None->{names[0]}",
        "hostname",
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(line.replace(" ", "") for line in captured.out.splitlines()) == sorted(
        f"{n}:{n}" for n in [*private, names[0]]
    )
    gateways = {id(p.gateway) for p in command.proxies if p.gateway is not None}
    assert len(gateways) == 1 and command.proxies[-1].gateway is None
    assert len(command.proxies) == count + 1
    assert farm.accepted_connections(farm.gateway) == before + 1


def test_script_with_arguments_and_include(tmp_path, names, capsys):
    include = tmp_path / "greeting.sh"
    include.write_text("GREETING=hello\n")
    script = tmp_path / "hello.sh"
    script.write_text('#!/bin/bash\n. "$(dirname "$0")/greeting.sh"\necho "$GREETING $1 $2"\n')
    _, code = apssh("-l", "root", "-t", names[0], "-s", "-i", include, script, "big", "world")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == f"{names[0]}:hello big world\n"
    # not a local file: the word is the script's text (RunString), includes still pushed
    _, code = apssh(
        "-l",
        "root",
        "-t",
        names[0],
        "-s",
        "-i",
        include,
        '. "$(dirname "$0")/greeting.sh"; echo "$GREETING from $(hostname) $1"',
        "again",
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == f"{names[0]}:hello from {names[0]} again\n"


def test_raw_time_colon_and_custom_formats(names, capsys):
    spec = ",".join(names)
    assert apssh("-r", "-l", "root", "-t", spec, "echo same")[1] == 0
    assert capsys.readouterr().out == "same\nsame\n"
    assert apssh("-tc", "-l", "root", "-t", names[0], "echo x")[1] == 0
    assert re.fullmatch(rf"\d\d-\d\d-\d\d:{names[0]}:x\n", capsys.readouterr().out)
    assert (
        apssh("-f", "{user}{fqdn}|{linenl}", "-l", "root", "-t", names[0], "echo y; echo '{host}'")[
            1
        ]
        == 0
    )
    # {user} is filled, and remote text is never read as a format (apssh did both wrong)
    assert capsys.readouterr().out == f"root@{names[0]}|y\nroot@{names[0]}|{{host}}\n"


def test_list_and_dry_run_connect_nowhere(farm, names, capsys):
    before = farm.accepted_connections(farm.direct[0])
    assert apssh("-L", "-l", "root", "-t", ",".join(names), "-x", names[1], "hostname")[1] == 0
    assert capsys.readouterr().out == f"root@{names[0]}\n"
    assert apssh("-n", "-l", "root", "-t", ",".join(names), "hostname")[1] == 0
    assert (
        capsys.readouterr().out.splitlines()[1]
        == f"========== {len(names)} hostnames selected (0 excluded):"
    )
    assert farm.accepted_connections(farm.direct[0]) == before


def test_main_called_from_async_code(names, capsys):
    async def inside_a_loop():
        return Apssh().main("-l", "root", "-t", names[0], "hostname")

    assert asyncio.run(inside_a_loop()) == 0
    assert capsys.readouterr().out == f"{names[0]}:{names[0]}\n"


def test_window_runs_every_host(names, capsys):
    _, code = apssh("-w", "1", "-l", "root", "-t", ",".join(names), "hostname")
    assert code == 0
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(f"{n}:{n}" for n in names)


def test_appush_appull_round_trip_with_host_fields(tmp_path, farm, names, capsys):
    for name in names:
        (tmp_path / f"conf-{name}").write_text(f"for {name}\n")
    spec = ",".join(names)
    assert (
        Appush().main(
            "-l", "root", "-t", spec, str(tmp_path / "conf-{host}"), "@:/tmp/apssh-{host}.conf"
        )
        == 0
    ), capsys.readouterr().err
    try:
        for name in names:
            assert (farm.tmp_of(name) / f"apssh-{name}.conf").read_text() == f"for {name}\n"
        pulled, marks = tmp_path / "back", tmp_path / "marks"
        assert (
            Appull().main(
                "-o",
                str(marks),
                "-m",
                "-l",
                "root",
                "-t",
                spec,
                "@:/tmp/apssh-{host}.conf",
                str(pulled / "{user}{host}"),
            )
            == 0
        )
        for name in names:
            assert (pulled / f"root@{name}").read_text() == f"for {name}\n"
        assert sorted(os.listdir(marks / "0ok")) == names  # copies have marks too
        assert capsys.readouterr().out == f"{marks}\n"
    finally:
        for name in names:
            (farm.tmp_of(name) / f"apssh-{name}.conf").unlink()


def test_appush_to_bare_remote_home_and_exit_1_on_failure(tmp_path, farm, names, capsys):
    local = tmp_path / "to-home.txt"
    local.write_text("home\n")
    tree = tmp_path / "apssh-tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "leaf").write_text("leaf\n")
    assert Appush().main("-l", "root", "-t", names[0], str(local), str(tree), "@:") == 0
    home = farm.home_of(names[0])
    try:
        assert (home / "to-home.txt").read_text() == "home\n"
        assert (home / "apssh-tree" / "sub" / "leaf").read_text() == "leaf\n"  # recursive
    finally:
        (home / "to-home.txt").unlink()
        shutil.rmtree(home / "apssh-tree")
    capsys.readouterr()
    assert (
        Appull().main("-l", "root", "-t", names[0], "@:/tmp/no-such-file", str(tmp_path / "x")) == 1
    )
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"appull: {names[0]}: ") and "no-such-file" in line, line


def test_sshjobs_apssh_subcommand_in_a_shell(tmp_path, farm, names, flag):
    done = sshjobs_process("apssh", "-l", "root", "-t", names[0], "-tc", "echo", "--verbose-word")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f":{names[0]}:--verbose-word\n")
    failed = sshjobs_process("apssh", "-l", "root", "-t", ",".join(names), "test", "-e", flag)
    assert (failed.returncode, failed.stdout, failed.stderr) == (1, "", "")
    (tmp_path / "f").write_text("pushed\n")
    pushed = sshjobs_process("appush", "-l", "root", "-t", names[0], tmp_path / "f", "@:/tmp/sub-f")
    assert pushed.returncode == 0, pushed.stderr
    try:
        pulled = sshjobs_process(
            "appull", "-l", "root", "-t", names[0], "@:/tmp/sub-f", tmp_path / "g"
        )
        assert pulled.returncode == 0, pulled.stderr
        assert Path(tmp_path / "g").read_text() == "pushed\n"
    finally:
        (farm.tmp_of(names[0]) / "sub-f").unlink()


def test_sshjobs_apssh_interrupted_stops_the_remote_command(farm, names):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sshjobs",
            "apssh",
            "-l",
            "root",
            "-t",
            names[0],
            "echo started; sleep 31.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout.readline() == f"{names[0]}:started\n"
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert stderr == "sshjobs apssh: interrupted\n"
    check = subprocess.run(
        farm.ssh_argv(names[0], "pgrep -f 'slee[p] 31.5' || true"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.stdout.strip() == ""
