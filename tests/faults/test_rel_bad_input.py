"""Bad input (issue 8, case 6): a cycle in the jobs, an invalid target or range, a missing script
or local file, an unknown option, an unwritable output directory or host list... Each is one
line on stderr naming the culprit, exit code 2, nothing on stdout, and nothing started: no host
accepted a connection.
"""

from __future__ import annotations

import asyncio

import pytest
from faultkit import Lines, accepted, cli, node

from asynciojobs import Scheduler
from asynciojobs.errors import CycleError
from sshjobs import LocalFileError, Run, RunScript, SshJob

CYCLE = """\
nodes:
  - {id: n1, hostname: direct1}
jobs:
  - {id: first, node: n1, required: second, commands: "echo first"}
  - {id: second, node: n1, required: first, commands: "echo second"}
"""

UNKNOWN_NODE = """\
nodes:
  - {id: n1, hostname: direct1}
jobs:
  - {id: only, node: nowhere, commands: "echo x"}
"""


def _cases(tmp):
    """(id, argv, fragment the error line must contain)."""
    script = tmp / "script.sh"
    script.write_text("echo hi\n")
    (tmp / "cycle.yaml").write_text(CYCLE)
    (tmp / "unknown.yaml").write_text(UNKNOWN_NODE)
    return [
        ("cycle", ["scenario", tmp / "cycle.yaml"], "cycle"),
        ("unknown-node", ["scenario", tmp / "unknown.yaml"], "nowhere"),
        ("missing-scenario", ["scenario", tmp / "nope.yaml"], "nope.yaml"),
        ("reversed-range", ["run", "-t", "direct[3-1]", "--", "true"], "[3-1]"),
        ("bad-range", ["run", "-t", "direct[1-x]", "--", "true"], "[1-x]"),
        ("bad-port", ["run", "-t", "direct1:99999", "--", "true"], "99999"),
        ("empty-hop", ["run", "-t", "gateway->", "--", "true"], "gateway->"),
        ("no-target", ["run", "--", "true"], "target"),
        ("all-excluded", ["run", "-t", "direct1", "-x", "direct1", "--", "true"], "excluded"),
        (
            "missing-target-file",
            ["run", "-t", tmp / "hosts-dir/none.txt", "--", "true"],
            "none.txt",
        ),
        ("missing-script", ["run", "-s", "-t", "direct1", tmp / "missing.sh"], "missing.sh"),
        (
            "missing-include",
            ["run", "-s", "--include", tmp / "lib-missing.sh", "-t", "direct1", script],
            "lib-missing.sh",
        ),
        (
            "missing-push-file",
            ["push", "-t", "direct1", tmp / "absent.tgz", "@:/tmp/"],
            "absent.tgz",
        ),
        ("missing-key", ["run", "-i", tmp / "no-key", "-t", "direct1", "--", "true"], "no-key"),
        ("unknown-option", ["run", "--frobnicate", "-t", "direct1", "--", "true"], "--frobnicate"),
        ("unknown-command", ["frobnicate"], "frobnicate"),
        ("bad-format", ["run", "-f", "{nosuch}", "-t", "direct1", "--", "true"], "nosuch"),
        ("bad-timeout", ["run", "--timeout", "-3", "-t", "direct1", "--", "true"], "timeout"),
        (
            "bad-host-keys",
            ["run", "--host-keys", "sometimes", "-t", "direct1", "--", "true"],
            "sometimes",
        ),
        (
            "unwritable-out-dir",
            ["run", "-o", "/dev/null/out", "-t", "direct1", "--", "true"],
            "/dev/null/out",
        ),
        ("out-dir-in-proc", ["run", "-o", "/proc/1", "-t", "direct1", "--", "true"], "/proc/1"),
        (
            "unwritable-ok-to",
            ["run", "--ok-to", "/dev/null/ok", "-t", "direct1", "--", "true"],
            "/dev/null/ok",
        ),
        (
            "unwritable-failed-to",
            ["run", "--failed-to", tmp / "no/dir/failed", "-t", "direct1", "--", "true"],
            "failed",
        ),
        (
            "pull-into-missing-dir",
            ["pull", "-t", "direct1", "@:/etc/hostname", tmp / "no/such/dir/"],
            "no/such",
        ),
    ]


def test_cli_bad_input_one_line_exit_2_nothing_started(farm, tmp_path):
    before = accepted(farm)
    failures = []
    cases = _cases(tmp_path)
    for name, argv, fragment in cases:
        done = cli(*argv)
        lines = done.stderr.splitlines()
        if (
            done.returncode != 2
            or len(lines) != 1
            or done.stdout
            or fragment not in lines[0]
            or "Traceback" in done.stderr
        ):
            failures.append(
                f"{name}: exit {done.returncode}, stdout {done.stdout!r}, stderr {done.stderr!r}"
            )
    assert failures == []
    assert accepted(farm) == before  # not one connection was made
    assert not any(tmp_path.glob("no*")) and not (tmp_path / "hosts-dir").exists()
    assert len(cases) == BAD_INPUTS_CLI


#: kept in docs/reliability.md's totals
BAD_INPUTS_CLI = 24


def test_lib_cycle_is_refused_before_any_connection(farm):
    lines = Lines()
    n = node(farm, farm.direct[0], formatter=lines)
    first = SshJob(n, command="echo first", label="first")
    second = SshJob(n, command="echo second", label="second", required=first)
    first.requires(second)
    before = accepted(farm)
    with pytest.raises(CycleError) as caught:
        Scheduler(first, second).run()
    assert "first" in str(caught.value) and "second" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert accepted(farm) == before and lines.lines == []


def test_lib_missing_local_script_fails_the_job_before_connecting(farm, tmp_path):
    lines = Lines()
    n = node(farm, farm.direct[0], formatter=lines)
    missing = tmp_path / "missing.sh"
    job = SshJob(n, commands=[Run("echo started"), RunScript(missing)])
    before = accepted(farm)
    assert asyncio.run(Scheduler(job).co_run()) is False
    error = job.raised_exception()
    assert isinstance(error, LocalFileError) and str(missing) in str(error)
    assert accepted(farm) == before and lines.lines == []  # "echo started" never ran
