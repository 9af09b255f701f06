"""``sshjobs run`` against the real sshd farm, in-process through click's CliRunner:
stdout, stderr and exit codes checked separately, for each output mode."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess

import pytest
from fixtures.cli import sshjobs
from fixtures.waiting import empty, wait_until

from sshjobs.gather import fold_hosts
from sshjobs.targets import read_spec


def lines(text):
    return sorted(text.splitlines())


@pytest.fixture
def direct(farm):
    """Target expression and names of the directly reachable hosts."""
    names = [h.name for h in farm.direct]
    return ",".join(names), names


def test_default_output_prefixes_hosts_and_separates_streams(direct):
    spec, names = direct
    result = sshjobs("run", "-t", spec, "--", "hostname; echo oops >&2")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == sorted(f"{n}: {n}" for n in names)
    assert lines(result.stderr) == sorted(f"{n}: oops" for n in names)


def test_exit_1_when_a_command_fails_and_error_line_names_host(farm, direct):
    spec, names = direct
    (farm.tmp_of(names[0]) / "cli-flag").write_text("")
    try:
        result = sshjobs("run", "-t", spec, "--", "test -e /tmp/cli-flag")
    finally:
        (farm.tmp_of(names[0]) / "cli-flag").unlink()
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"sshjobs: {names[1]}: exit status 1"]


def test_exit_3_when_a_host_cannot_be_reached(direct):
    _spec, names = direct
    result = sshjobs("run", "-t", f"{names[0]},root@127.0.0.1:1", "-c", "5", "--", "true")
    assert result.exit_code == 3
    [error] = result.stderr.splitlines()
    assert error.startswith("sshjobs: 127.0.0.1:1: unreachable")


def _wait_gone(farm, name, pattern):
    """Wait until no process matching ``pattern`` runs on the host (the remote kill lands
    asynchronously); fails naming the pids left."""

    def pids() -> str:
        return subprocess.run(
            farm.ssh_argv(name, f"pgrep -f '{pattern}' || true"),
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()

    wait_until(pids, until=empty, interval=0.1, message=f"no {pattern!r} left on {name}")


def test_exit_4_on_command_timeout_and_on_deadline(farm, direct):
    spec, names = direct
    result = sshjobs("run", "-t", names[0], "--timeout", "0.5", "--", "sleep 30.25")
    assert result.exit_code == 4, result.stderr
    assert "timed out" in result.stderr
    _wait_gone(farm, names[0], "slee[p] 30.25")
    result = sshjobs("run", "-t", spec, "--deadline", "1", "--", "sleep 30.5")
    assert result.exit_code == 4, result.stderr
    assert (
        result.stderr == f"sshjobs: {fold_hosts(names)}: timed out: the run deadline "
        "of 1s was reached\n"
    )  # one folded line for hosts stopped together
    for name in names:
        _wait_gone(farm, name, "slee[p] 30.5")


def test_raw_and_custom_format(direct):
    spec, names = direct
    result = sshjobs("run", "-r", "-t", spec, "--", "echo same")
    assert (result.exit_code, result.stdout) == (0, "same\nsame\n")
    # no -l and no User in the farm's ssh config: {user} is the login used, root
    result = sshjobs(
        "run", "-f", "{user}@{host}|{stream}|{line}", "-t", spec, "--", "echo x; echo y >&2"
    )
    assert lines(result.stdout) == sorted(f"root@{n}|out|x" for n in names)
    assert lines(result.stderr) == sorted(f"root@{n}|err|y" for n in names)


def test_gateway_targets_share_one_gateway_connection(farm):
    before = farm.accepted_connections(farm.gateway)
    count = len(farm.private)
    result = sshjobs("run", "-g", "gateway", "-t", f"private[1-{count}]", "--", "hostname")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == sorted(f"{h.name}: {h.name}" for h in farm.private)
    assert farm.accepted_connections(farm.gateway) == before + 1


def test_gather_folds_identical_outputs(farm):
    count = len(farm.private)
    result = sshjobs(
        "run",
        "-b",
        "-t",
        f"gateway->private[1-{count}]",
        "-x",
        "private2",
        "--",
        "echo same; hostname | tr -d 0-9",
    )
    assert result.exit_code == 0, result.stderr
    kept = [f"private{i}" for i in range(1, count + 1) if i != 2]
    header = f"private[1,3-{count}]" if count > 3 else "private[1,3]"
    assert f"{header} ({len(kept)})\n" in result.stdout
    assert result.stdout.count("same\n") == 1 and result.stdout.count("private\n") == 1


def test_json_one_record_per_host(direct):
    spec, names = direct
    result = sshjobs(
        "run",
        "--json",
        "-t",
        f"{spec},root@127.0.0.1:1",
        "-c",
        "5",
        "--",
        "echo out; echo err >&2; exit 3",
    )
    assert result.exit_code == 3
    records = {r["host"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(records) == {*names, "127.0.0.1:1"}
    record = records[names[0]]
    assert (record["status"], record["exit_status"], record["stdout"], record["stderr"]) == (
        "failed",
        3,
        "out\n",
        "err\n",
    )
    assert record["start"] <= record["end"] and record["user"] == "root"
    down = records["127.0.0.1:1"]
    assert down["status"] == "unreachable" and down["error"]["class"]
    assert result.stderr == ""


def test_out_dir_marks_and_rerun_lists(tmp_path, farm, direct):
    spec, names = direct
    (farm.tmp_of(names[0]) / "cli-mark").write_text("")
    out, ok_file, failed_file = tmp_path / "out", tmp_path / "ok", tmp_path / "failed"
    try:
        result = sshjobs(
            "run",
            "-o",
            out,
            "--mark",
            "--ok-to",
            ok_file,
            "--failed-to",
            failed_file,
            "-t",
            f"{spec},root@127.0.0.1:1",
            "-c",
            "5",
            "--",
            "hostname; test -e /tmp/cli-mark",
        )
    finally:
        (farm.tmp_of(names[0]) / "cli-mark").unlink()
    assert result.exit_code == 3
    assert result.stdout == f"{out}\n"
    assert (out / names[0]).read_text() == f"{names[0]}\n"
    assert (out / "0ok" / names[0]).read_text() == "0\n"
    assert (out / "1failed" / names[1]).read_text() == "1\n"
    assert "unreachable" in (out / "1failed" / "127.0.0.1:1").read_text()
    assert [str(t) for t in read_spec(str(ok_file))] == [f"{names[0]}"]
    # the failed hosts are the next run's targets, as a directory or as a file
    again = sshjobs("targets", "-t", out / "1failed")
    assert lines(again.stdout) == sorted([names[1], "127.0.0.1:1"])
    rerun = sshjobs("run", "-t", failed_file, "-x", "127.0.0.1:1", "--", "hostname")
    assert (rerun.exit_code, rerun.stdout) == (0, f"{names[1]}: {names[1]}\n")


def test_script_mode_with_args_and_include(tmp_path, direct):
    _spec, names = direct
    script = tmp_path / "probe.sh"
    script.write_text('#!/bin/sh\necho "args:$1,$2"; cat "$(dirname "$0")/data.txt"\n')
    data = tmp_path / "data.txt"
    data.write_text("included\n")
    result = sshjobs("run", "-r", "-t", names[0], "--include", data, "-s", script, "one", "two")
    assert (result.exit_code, result.stdout) == (0, "args:one,two\nincluded\n"), result.stderr
    inline = sshjobs("run", "-r", "-t", names[0], "-s", 'echo "inline:$1"', "arg")
    assert (inline.exit_code, inline.stdout) == (0, "inline:arg\n"), inline.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "-s", "./no-such-script.sh"], "no such script file"),
        (["run", "--include", "/nonexistent/x", "-s", "echo a; echo b"], "no such include"),
        (["run"], "no command"),
        (["run", "-f", "{nope}", "--", "true"], "invalid --format"),
        (["push", "/nonexistent/file", "@:/tmp/"], "no such local file"),
        (["push", "somefile"], "destination starts with @:"),
        (["pull", "@:/etc/hostname", "/nonexistent-dir/x"], "no such local directory"),
        (["push", "--sudo", "/etc/hostname", "@:/tmp/"], "are for sshjobs run"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_connects_nowhere(farm, args, fragment):
    before = farm.accepted_connections(farm.direct[0])
    result = sshjobs(*args[:1], "-t", farm.direct[0].name, *args[1:])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and fragment in result.stderr, result.stderr
    assert result.stdout == ""
    assert farm.accepted_connections(farm.direct[0]) == before


def test_list_targets_connects_nowhere(farm):
    before = farm.accepted_connections(farm.gateway)
    result = sshjobs("run", "-L", "-g", "gateway", "-t", "private[1-3]", "--", "reboot")
    assert result.stdout == "gateway->private1\ngateway->private2\ngateway->private3\n"
    assert farm.accepted_connections(farm.gateway) == before


@pytest.mark.parametrize("ask", [False, True])
@pytest.mark.parametrize("script", [False, True])
def test_sudo_modes_never_show_the_password_nor_leave_it_behind(farm, ask, script):
    host = farm.direct[0]
    command = ["-s", "id -u; true"] if script else ["--", "id -u"]
    args = ["run", "-t", host.name, "--ask-sudo-pass" if ask else "--sudo", *command]
    result = sshjobs(*args, input="s3cr3t-pw\n" if ask else None)
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert not list(farm.home_of(host).glob(".sshjobs-*"))  # no helper, no staged script
    if shutil.which("sudo") is None:  # the farm hosts share this machine's programs
        assert result.exit_code == 1
        assert f"sshjobs: {host.name}: exit status 127" in result.stderr
    else:  # root needs no password: the command runs as root either way
        assert (result.exit_code, result.stdout) == (0, f"{host.name}: 0\n"), result.stderr


def test_host_key_modes(farm, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh: nothing known, no config
    host = farm.direct[0]
    target = f"root@{host.address}" + ("" if host.port == 22 else f":{host.port}")
    key = ["-i", farm.client_key]
    strict = sshjobs("run", *key, "--host-keys", "strict", "-t", target, "--", "true")
    assert strict.exit_code == 3
    [error] = strict.stderr.splitlines()
    assert error.startswith(f"sshjobs: {target[5:]}: unreachable") and "key" in error
    recorded = tmp_path / "recorded_hosts"
    accepted = sshjobs(
        "run",
        *key,
        "--host-keys",
        "accept-new",
        "--known-hosts",
        recorded,
        "-t",
        target,
        "--",
        "true",
    )
    assert accepted.exit_code == 0, accepted.stderr
    assert recorded.read_text().strip()
    known = sshjobs("run", *key, "--known-hosts", recorded, "-t", target, "--", "true")
    assert known.exit_code == 0, known.stderr
    ignored = sshjobs("run", *key, "--host-keys", "ignore", "-t", target, "--", "true")
    assert ignored.exit_code == 0, ignored.stderr
    assert not (tmp_path / ".ssh").exists()
    default = sshjobs("run", *key, "-t", target, "--", "true")  # accept-new, recorded
    assert default.exit_code == 0, default.stderr
    assert (tmp_path / ".ssh" / "known_hosts").read_text().split()[
        1:
    ] == recorded.read_text().split()[1:]


def test_window_bounds_hosts_handled_at_once(farm):
    # the hosts share this machine's clock: with -w 1 their runs must not overlap
    count = len(farm.private)
    result = sshjobs(
        "run",
        "-w",
        "1",
        "-f",
        "{host} {line}",
        "-t",
        f"gateway->private[1-{count}]",
        "--",
        "date +%s.%N; sleep 0.2; date +%s.%N",
    )
    assert result.exit_code == 0, result.stderr
    spans = {}
    for line in result.stdout.splitlines():
        name, stamp = line.split()
        spans.setdefault(name, []).append(float(stamp))
    ordered = sorted(spans.values())
    for before, after in itertools.pairwise(ordered):
        assert before[1] <= after[0]  # no overlap: one host at a time


def test_apssh_time_colon_and_date_dir(farm, tmp_path, monkeypatch):
    name = farm.direct[0].name
    result = sshjobs("run", "-tc", "-t", name, "--", "echo tc")
    assert re.fullmatch(rf"\d\d:\d\d:\d\d:{name}:tc\n", result.stdout), result.stdout
    monkeypatch.chdir(tmp_path)
    dated = sshjobs("run", "-d", "-m", "-t", name, "--", "echo dated")
    assert dated.exit_code == 0, dated.stderr
    directory = tmp_path / dated.stdout.strip()
    assert (directory / name).read_text() == "dated\n"
    assert (directory / "0ok" / name).exists()


def test_in_process_runs_give_signal_handlers_back(farm):
    import signal

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    sigint = signal.getsignal(signal.SIGINT)
    try:
        result = sshjobs("run", "-t", farm.direct[0].name, "--", "true")
        assert result.exit_code == 0
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is sigint
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_verbose_shows_connection_events_on_stderr_only(farm):
    name = farm.direct[0].name
    result = sshjobs("run", "-v", "-t", name, "--", "echo v")
    assert result.exit_code == 0
    assert result.stdout == f"{name}: v\n"
    events = result.stderr.splitlines()
    assert events and all(line.startswith(f"{name}: ==========") for line in events), events
    assert any("Connected" in line for line in events)


def test_two_hop_chain_and_none_bypassing_the_default_gateway(farm):
    first, second = farm.private[0].name, farm.private[1].name
    direct = farm.direct[0].name
    before = farm.accepted_connections(farm.gateway)
    result = sshjobs(
        "run",
        "-g",
        "gateway",
        "-t",
        f"gateway→{first}->{second}",
        "-t",
        f"None->{direct}",
        "--",
        "hostname",
    )
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == sorted([f"{second}: {second}", f"{direct}: {direct}"])
    assert farm.accepted_connections(farm.gateway) == before + 1  # only the chain used it


def test_command_killed_by_a_signal(farm):
    name = farm.direct[0].name
    result = sshjobs("run", "-t", name, "--", "kill -TERM $$")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"sshjobs: {name}: killed by signal TERM"
    record = json.loads(sshjobs("run", "--json", "-t", name, "--", "kill -TERM $$").stdout)
    assert (record["status"], record["exit_status"], record["signal"]) == ("failed", None, "TERM")


def test_script_mode_uses_one_connection_per_host(tmp_path, farm):
    host = farm.direct[0]
    script = tmp_path / "count.sh"
    script.write_text("#!/bin/sh\necho counted\n")
    before = farm.accepted_connections(host)
    result = sshjobs("run", "-r", "-t", host.name, "-s", script)
    assert (result.exit_code, result.stdout) == (0, "counted\n"), result.stderr
    assert farm.accepted_connections(host) == before + 1  # upload, run and clean-up share it
