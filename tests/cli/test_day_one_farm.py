"""What clush, pssh and ssh users reach for on day one (issue 16), on the real sshd farm:
empty target lists, conflicting output modes, marks, pull overwrites, the timeout boundary,
ProxyJump errors, format fields, groups, ssh options and config files, the default user,
--diff, --pick, --color."""

from __future__ import annotations

import os
import re

import pytest
from fixtures.cli import sshjobs


def names(farm):
    return [host.name for host in farm.direct]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "-t", "", "--", "true"], "-t '': empty target list (an unset variable?)"),
        (["run", "-t", "{first}", "-x", "", "--", "true"], "-x '': empty target list"),
        (["run", "-t", "{empty_file}", "--", "true"], "names no host"),
        (["run", "-t", "{first}", "-x", "{first}", "--", "true"], "-x excluded all 1 targets"),
        (["run", "-r", "-b", "-t", "{first}", "--", "true"], "-r/--raw and -b/--gather cannot be"),
        (["run", "-tc", "-b", "-t", "{first}", "--", "true"], "-tc/--time-colon and -b/--gather"),
        (["run", "--json", "--diff", "-t", "{first}", "--", "true"], "--json and --diff"),
        (
            ["run", "-O", "NoSuchOption=1", "-t", "{first}", "--", "true"],
            "unknown ssh option 'NoSuchOption'",
        ),
        (["run", "-O", "Port=abc", "-t", "{first}", "--", "true"], "Invalid Port integer value"),
        (
            ["run", "-F", "/nonexistent/config", "-t", "{first}", "--", "true"],
            "no such ssh config file",
        ),
        (["run", "-t", "@nosuchgroup", "--", "true"], "unknown group @nosuchgroup"),
    ],
)
def test_bad_selection_is_one_line_exit_2_and_connects_nowhere(farm, tmp_path, args, fragment):
    empty = tmp_path / "empty"
    empty.write_text("# no host here\n")
    first = farm.direct[0]
    args = [a.format(first=first.name, empty_file=empty) for a in args]
    before = farm.accepted_connections(first)
    result = sshjobs(*args, env={"SSHJOBS_GROUPS": str(tmp_path / "groups")})
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and fragment in result.stderr, result.stderr
    assert farm.accepted_connections(first) == before


def test_unknown_group_names_the_file(tmp_path):
    groups = tmp_path / "groups"
    groups.write_text("web: a,b\n")
    result = sshjobs("targets", "-t", "@db", env={"SSHJOBS_GROUPS": str(groups)})
    assert result.exit_code == 2
    assert f"unknown group @db (groups file {groups}); known groups: @web" in result.stderr


def test_groups_in_targets_exclusions_and_listing(farm, tmp_path):
    count = len(farm.private)
    groups = tmp_path / "groups"
    groups.write_text(
        f"# the farm\ndirect: {','.join(names(farm))}  # reachable\n"
        f"behind: gateway->private[1-{count}]\nall: @direct, @behind\n"
    )
    env = {"SSHJOBS_GROUPS": str(groups)}
    listed = sshjobs("targets", "--groups", env=env)
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "@direct: direct[1-2] (2)"
    assert listed.stdout.splitlines()[2].startswith("@all: ") and f"({2 + count})" in listed.stdout
    result = sshjobs(
        "run", "-t", "@all", "-x", "@direct", "-x", "private1", "--", "hostname", env=env
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [
        f"private{i}: private{i}" for i in range(2, count + 1)
    ]


def test_marks_of_this_run_replace_the_previous_ones(farm, tmp_path):
    first, second = names(farm)
    out = tmp_path / "out"
    flag = farm.tmp_of(first) / "mark-flag"
    flag.write_text("")
    try:
        failed = sshjobs(
            "run", "-o", out, "-m", "-t", f"{first},{second}", "--", "test ! -e /tmp/mark-flag"
        )
        assert failed.exit_code == 1
        assert sorted(os.listdir(out / "1failed")) == [first]
    finally:
        flag.unlink()
    again = sshjobs("run", "-o", out, "-m", "-t", out / "1failed", "--", "test ! -e /tmp/x")
    assert again.exit_code == 0, again.stderr
    assert os.listdir(out / "1failed") == []  # the host that now succeeded moved
    assert sorted(os.listdir(out / "0ok")) == sorted([first, second])


def test_pull_never_replaces_a_local_file_unless_forced(farm, tmp_path):
    host = farm.direct[0]
    (farm.tmp_of(host) / "pulled").write_text("remote\n")
    local = tmp_path / "local.txt"
    local.write_text("precious\n")
    try:
        refused = sshjobs("pull", "-t", host.name, "@:/tmp/pulled", local)
        assert refused.exit_code == 2
        assert f"{str(local)!r} exists" in refused.stderr and "--force" in refused.stderr
        assert local.read_text() == "precious\n"
        into = tmp_path / "dir"
        into.mkdir()
        (into / "pulled").write_text("precious\n")
        assert sshjobs("pull", "-t", host.name, "@:/tmp/pulled", f"{into}/").exit_code == 2
        forced = sshjobs("pull", "--force", "-t", host.name, "@:/tmp/pulled", local)
        assert forced.exit_code == 0, forced.stderr
        assert local.read_text() == "remote\n"
        missing = sshjobs("pull", "-t", host.name, "@:/tmp/nonexist", tmp_path / "new")
        assert missing.exit_code == 1 and "['" not in missing.stderr
        assert "pull of /tmp/nonexist to" in missing.stderr
    finally:
        (farm.tmp_of(host) / "pulled").unlink()


def test_exit_status_that_came_before_the_timeout_wins(farm):
    name = farm.direct[0].name
    # the shell returns at once, but a background child keeps the channel open past --timeout
    result = sshjobs("run", "--timeout", "1", "-t", name, "--", "echo done; sleep 4 &")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{name}: done\n"
    assert "timed out" not in result.stderr
    late = sshjobs("run", "--timeout", "1", "-t", name, "--", "sleep 4.5; echo late")
    assert late.exit_code == 4 and "timed out" in late.stderr


def test_proxyjump_from_ssh_config_with_the_jump_host_down_names_it(faulty_farm):
    farm = faulty_farm
    farm.stop(farm.gateway)
    result = sshjobs("run", "-c", "5", "-t", farm.private[0].name, "--", "true")
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"sshjobs: {farm.private[0].name}: unreachable: cannot reach "
        f"{farm.private[0].name}: connection refused by jump host gateway "
        f"(ProxyJump gateway"
    ), line


def test_format_and_path_fields_come_from_the_ssh_config(farm, tmp_path):
    host = farm.direct[0]
    result = sshjobs(
        "run",
        "-f",
        "{host}|{name}|{fqdn}|{port}|{user}|{target}|{line}",
        "-t",
        host.name,
        "--",
        "echo x",
    )
    assert (
        result.stdout == f"{host.name}|{host.name}|{host.address}|{host.port}|root|{host.name}|x\n"
    ), result.stderr
    pulled = sshjobs("pull", "-t", host.name, "@:/etc/hostname", tmp_path / "{fqdn}-{port}")
    assert pulled.exit_code == 0, pulled.stderr
    assert (tmp_path / f"{host.address}-{host.port}").exists()
    helptext = sshjobs("run", "--help").stdout
    for field in ("{host}", "{name}", "{fqdn}", "{port}", "{target}", "{elapsed}"):
        assert field in helptext


def test_fold_on_every_axis():
    result = sshjobs("targets", "--fold", "-t", "r[1-2]n[1-2]")
    assert result.stdout == "r[1-2]n[1-2]\n"
    assert sshjobs("targets", "--fold", "-t", "r[1-2]n[1-2],r3n1").stdout == "r[1-2]n[1-2],r3n1\n"


def test_ssh_options_and_config_files(farm, tmp_path):
    host = farm.direct[0]
    moved = sshjobs("run", "-c", "5", "-O", "Port=1", "-t", host.name, "--", "true")
    assert moved.exit_code == 3 and "refused" in moved.stderr  # -O overrides the config
    config = tmp_path / "config"
    config.write_text(
        f"Host myalias\n  HostName {host.address}\n  Port {host.port}\n\n"
        + farm.ssh_config.read_text()
    )
    aliased = sshjobs(
        "run", "-F", config, "-O", "ServerAliveInterval=3", "-t", "myalias", "--", "hostname"
    )
    assert (aliased.exit_code, aliased.stdout) == (0, f"myalias: {host.name}\n"), aliased.stderr
    unknown = sshjobs("run", "-t", "myalias", "-c", "5", "--", "true")  # not in ~/.ssh/config
    assert unknown.exit_code == 3


def test_default_user_is_the_config_user_else_the_local_user(farm, tmp_path):
    host = farm.direct[0]
    local = sshjobs(
        "run", "-t", host.name, "--", "id -un", env={"LOGNAME": farm.user, "USER": farm.user}
    )
    assert (local.exit_code, local.stdout) == (0, f"{host.name}: {farm.user}\n"), local.stderr
    config = tmp_path / "config"
    config.write_text(f"Host {host.name}\n  User root\n\n" + farm.ssh_config.read_text())
    configured = sshjobs(
        "run",
        "-F",
        config,
        "-t",
        host.name,
        "--",
        "id -un",
        env={"LOGNAME": farm.user, "USER": farm.user},
    )
    assert configured.stdout == f"{host.name}: root\n", configured.stderr


def test_diff_against_the_most_common_output(farm):
    count = len(farm.private)
    result = sshjobs(
        "run",
        "--diff",
        "-t",
        f"gateway->private[1-{count}]",
        "--",
        "echo a; test $(hostname) = private2 && echo odd; echo b",
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.count("a\nb\n") == 1  # the reference, once
    assert re.search(r"^\+odd$", out, re.M) and "+++ private2" in out, out
    assert f"--- private[1,3-{count}]" in out if count > 3 else "--- private" in out


def test_pick_runs_on_n_random_targets(farm):
    count = len(farm.private)
    result = sshjobs("run", "--pick", "2", "-t", f"gateway->private[1-{count}]", "--", "hostname")
    assert result.exit_code == 0, result.stderr
    picked = result.stdout.splitlines()
    assert len(picked) == 2 and len(set(picked)) == 2


def test_color_always_never_and_no_color(farm):
    name = farm.direct[0].name
    always = sshjobs("run", "--color", "always", "-t", name, "--", "echo c")
    assert "\x1b[" in always.stdout
    never = sshjobs("run", "--color", "never", "-t", name, "--", "echo c")
    assert never.stdout == f"{name}: c\n"
    auto = sshjobs("run", "-t", name, "--", "echo c", env={"NO_COLOR": "1"})
    assert auto.stdout == f"{name}: c\n"
