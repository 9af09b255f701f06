"""Push / Pull, RunScript / RunString, Capture / Deferred on the farm."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import os
import stat
import uuid

from sshjobs_helpers import collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import (
    Capture,
    Deferred,
    LocalFileError,
    Pull,
    Push,
    Run,
    RunScript,
    RunString,
    SshJob,
    Variables,
)


def _tree(root):
    root.mkdir()
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "top.txt").write_bytes(b"top\n")
    (root / "sub" / "exec.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "sub" / "exec.sh", 0o751)
    (root / "sub" / "deeper" / "secret").write_bytes(bytes(range(256)))
    os.chmod(root / "sub" / "deeper" / "secret", 0o600)


def _snapshot(root):
    return {
        str(p.relative_to(root)): (
            p.read_bytes() if p.is_file() else None,
            stat.S_IMODE(p.stat().st_mode),
        )
        for p in sorted(root.rglob("*"))
    }


def test_push_pull_round_trip_big_file_and_tree(nodes, tmp_path):
    farm = nodes.farm
    gateway = nodes.gateway()
    node = nodes.node(farm.private[0], gateway=gateway)  # through the gateway
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(10 * 1024 * 1024))
    os.chmod(big, 0o640)
    tree = tmp_path / "tree"
    _tree(tree)
    remote = f"/tmp/sj-{uuid.uuid4().hex[:8]}"
    back = tmp_path / "back"
    back.mkdir()
    job = SshJob(
        node,
        commands=[
            Run("mkdir", remote),
            Push([str(big), str(tree)], remote),
            Pull([f"{remote}/big.bin", f"{remote}/tree"], str(back)),
            Run("rm -rf", remote),
        ],
    )
    assert Scheduler(job).run(), job.raised_exception()
    assert (back / "big.bin").read_bytes() == big.read_bytes()
    assert stat.S_IMODE((back / "big.bin").stat().st_mode) == 0o640
    assert _snapshot(back / "tree") == _snapshot(tree)
    assert [r.ok for r in job.results] == [True] * 4


def test_missing_local_file_fails_before_connecting(nodes, tmp_path):
    farm = nodes.farm
    before = nodes.counts()
    for command in (
        Push(str(tmp_path / "nope"), "/tmp"),
        RunScript(str(tmp_path / "nope.sh")),
        RunString("echo x", includes=[str(tmp_path / "missing-include")]),
    ):
        node = nodes.node(farm.direct[0])
        job = SshJob(node, commands=[Run("true"), command])
        assert Scheduler(job).run() is False
        assert isinstance(job.raised_exception(), LocalFileError)
        assert "nope" in str(job.raised_exception()) or "missing" in str(job.raised_exception())
    assert nodes.counts() == before


def test_runscript_with_args_and_includes_private_dir_cleaned(nodes, collect, tmp_path):
    farm = nodes.farm
    host = farm.direct[1]
    script = tmp_path / "probe.sh"
    script.write_text(
        '#!/bin/sh\nd=$(dirname "$0")\ncat "$d/data.txt"\necho "args=$#:$1:$2"\nstat -c %a "$d"\n'
    )
    include = tmp_path / "data.txt"
    include.write_text("included\n")
    node = nodes.node(host)
    job = SshJob(
        node,
        commands=[
            RunScript(str(script), "one", "'two words'", includes=[str(include)]),
            RunScript(str(script), "x y", quote=True, includes=[str(include)], keep=True),
        ],
    )
    assert Scheduler(job).run(), job.raised_exception()
    out = collect.stdout().decode()
    assert out.count("included\n") == 2
    assert "args=2:one:two words\n" in out and "args=1:x y:\n" in out
    assert out.count("700\n") == 2
    left = [p.name for p in farm.home_of(host).iterdir() if p.name.startswith(".sshjobs-")]
    assert len(left) == 1  # only the keep=True one
    for name in left:
        job = SshJob(node, command=Run("rm -rf", name))
        assert Scheduler(job).run()


def test_runstring_remote_name_args_and_exit(nodes, collect):
    node = nodes.node(nodes.farm.direct[0])
    body = '#!/bin/bash\n# a comment\necho "$0 got $*"\nexit ${2:-0}\n'
    job = SshJob(
        node,
        critical=False,
        commands=[
            RunString(body, "a", remote_name="myscript"),
            RunString(body, "b", 9),
        ],
    )
    assert Scheduler(job).run()
    assert job.results[0].ok and job.results[1].exit_status == 9
    assert job.commands[1].get_label_line() == 'RunString: echo "$0 got...'
    lines = collect.stdout().decode().splitlines()
    assert lines[0].endswith("/myscript got a") and lines[1].endswith("/script got b 9")


def test_capture_feeds_later_commands_exactly(nodes, collect):
    farm = nodes.farm
    variables = Variables()
    gateway = nodes.gateway()
    node = nodes.node(farm.private[1], gateway=gateway)
    job1 = SshJob(
        node,
        commands=[
            Run("echo", "private-value", capture=Capture("value", variables)),
            Run("printf '\\000\\377\\n\\n'", capture=Capture("binary", variables)),
        ],
    )
    job2 = SshJob(
        gateway, command=Run(Deferred("echo got {{value}} {{missing}}", variables)), required=job1
    )
    assert Scheduler(job1, job2).run(), (job1.raised_exception(), job2.raised_exception())
    assert variables.value == "private-value"
    assert job1.results[1].stdout == b"\x00\xff\n\n"  # exact bytes
    assert variables.binary == "\x00\udcff\n"  # one trailing newline stripped
    assert collect.stdout(gateway.hostname) == b"got private-value {{ missing }}\n"
    assert collect.stdout(node.hostname) == b""  # captured, not shown


def test_concurrent_captures_on_one_node_do_not_mix(nodes, collect):
    variables = Variables()
    node = nodes.node(nodes.farm.direct[1])
    jobs = []
    for i in range(12):
        jobs.append(
            SshJob(
                node,
                command=Run(f"sleep 0.0{i % 3}; echo c{i}", capture=Capture(f"v{i}", variables)),
            )
        )
        jobs.append(SshJob(node, command=Run(f"sleep 0.0{i % 3}; echo shown{i}")))
    assert Scheduler(*jobs).run()
    assert all(variables[f"v{i}"] == f"c{i}" for i in range(12))
    shown = sorted(collect.stdout().split())
    assert shown == sorted(f"shown{i}".encode() for i in range(12))


def test_lines_are_whole_and_binary_safe(nodes, collect):
    farm = nodes.farm
    direct = [nodes.node(h) for h in farm.direct]
    command = (
        "for i in 1 2 3; do printf 'part-'; sleep 0.02; printf 'end-%s\\xff\\n' $i; "
        "done; printf 'no-newline'"
    )
    assert Scheduler(*[SshJob(n, command=command) for n in direct]).run()
    for node in direct:
        lines = [line for host, kind, line in collect.lines if host == node.hostname]
        assert lines == [
            b"part-end-1\xff\n",
            b"part-end-2\xff\n",
            b"part-end-3\xff\n",
            b"no-newline",
        ]
