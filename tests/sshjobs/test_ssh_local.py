"""LocalNode: the same commands as on SshNode, as local subprocesses (no server needed)."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import os
import stat
import uuid

from fixtures.waiting import empty, wait_until
from sshjobs_helpers import collect, pids_matching  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import (
    Capture,
    CommandFailedError,
    CommandTimeoutError,
    Deferred,
    LocalFileError,
    LocalNode,
    Pull,
    Push,
    Run,
    RunScript,
    RunString,
    SshJob,
    Variables,
)


def test_run_output_results_and_failures(collect):
    node = LocalNode(formatter=collect)
    ok = SshJob(node, commands=[Run("echo out; echo err >&2"), Run("exit 2", allowed_exits=[2])])
    bad = SshJob(node, critical=False, commands=[Run("exit 3"), Run("echo after")], required=ok)
    crit = SshJob(node, commands=[Run("echo boom >&2; false"), Run("echo never")], required=bad)
    assert Scheduler(ok, bad, crit).run() is False
    assert collect.stdout("LOCALNODE") == b"out\nafter\n"
    assert collect.stderr("LOCALNODE") == b"err\nboom\n"
    assert [r.returned for r in ok.results] == [0, 2] and bad.result() == 3
    exc = crit.raised_exception()
    assert isinstance(exc, CommandFailedError) and exc.exit_status == 1
    assert exc.host == "LOCALNODE" and "boom" in exc.stderr_tail


def test_scripts_capture_deferred(collect, tmp_path):
    script = tmp_path / "s.sh"
    script.write_text('#!/bin/sh\necho "$# $1"; cat "$(dirname "$0")/inc"\n')
    (tmp_path / "inc").write_text("included\n")
    variables = Variables()
    node = LocalNode(formatter=collect)
    job = SshJob(
        node,
        commands=[
            RunScript(str(script), "a b", quote=True, includes=[str(tmp_path / "inc")]),
            RunString("#!/bin/sh\nprintf 'v\\377\\n'", capture=Capture("value", variables)),
            Run(Deferred("echo got {{value}}", variables)),
        ],
    )
    assert Scheduler(job).run(), job.raised_exception()
    assert job.results[1].stdout == b"v\xff\n"
    assert collect.stdout() == b"1 a b\nincluded\ngot v\xff\n"


def test_timeout_kills_the_process_group(collect):
    marker = f"5{uuid.uuid4().int % 10**6:06d}"
    node = LocalNode(formatter=collect)
    job = SshJob(node, command=Run(f"sleep {marker} & sleep 1{marker}", timeout=0.3))
    assert Scheduler(job).run() is False
    assert isinstance(job.raised_exception(), CommandTimeoutError)
    wait_until(
        lambda: pids_matching(f"sleep {marker}"),
        until=empty,
        timeout=3,
        message="every process of the group killed",
    )


def test_push_pull_are_local_copies(collect, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_bytes(b"\x00data")
    os.chmod(src / "d" / "f", 0o604)
    dst = tmp_path / "dst"
    dst.mkdir()
    back = tmp_path / "back"
    back.mkdir()
    node = LocalNode(formatter=collect)
    job = SshJob(
        node, commands=[Push([str(src)], str(dst)), Pull(str(dst / "src" / "d" / "f"), str(back))]
    )
    assert Scheduler(job).run(), job.raised_exception()
    assert (back / "f").read_bytes() == b"\x00data"
    assert stat.S_IMODE((back / "f").stat().st_mode) == 0o604
    missing = SshJob(node, command=Push(str(tmp_path / "nope"), str(dst)))
    assert Scheduler(missing).run() is False
    assert isinstance(missing.raised_exception(), LocalFileError)
