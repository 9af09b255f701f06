"""Output integrity (issue 8, case 5): 100 MB from one host streamed byte-exact through the CLI
(checksum, and the process never holds it in memory), binary output from several hosts exact in
the library (captured), in per-host files (-o) and in JSON (base64), and many hosts printing many
lines at once: no line ever mixed with another host's, none lost, none reordered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import re
import subprocess
import threading

from faultkit import SSHJOBS, Lines, cli, marker, node, target_of, workers
from fixtures.memory import PeakMemory

from asynciojobs import Scheduler
from sshjobs import Run, SshJob
from sshjobs.cli.console import Console, LineFormat
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.reporters import LiveReporter
from sshjobs.targets import Target

BIG = 100 * 1000 * 1000


def _random_file(path, size: int) -> str:
    """Random bytes (all 256 values, no final newline); returns their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            if left == len(chunk) and chunk.endswith(b"\n"):
                chunk = chunk[:-1] + b"x"
            handle.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def test_cli_100_mb_from_one_host_streamed_byte_exact(farm):
    host = farm.direct[0]
    tag = marker()
    path = farm.tmp_of(host) / f"big-{tag}"
    try:
        expected = _random_file(path, BIG)
        process = subprocess.Popen(
            [SSHJOBS, "run", "-r", "-t", host.name, "--", f"cat /tmp/big-{tag}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        memory = PeakMemory(process.pid)  # this child's own peak (not wait4's ru_maxrss)
        errors: list[bytes] = []
        reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
        reader.start()
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := process.stdout.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
            reader.join(30)
            peak_kib = memory.stop()  # before the wait: a reaped child has no VmHWM
            process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()
    finally:
        path.unlink(missing_ok=True)
    assert process.returncode == 0, errors
    assert errors == [b""]
    assert size == BIG and digest.hexdigest() == expected
    # holding the output once would take the interpreter (~45 MB) + 100 MB
    assert 0 < peak_kib * 1024 < BIG, f"peak RSS {peak_kib} KiB: not streamed"


def _binary_files(farm, hosts, tag, size=300_000) -> dict[str, bytes]:
    contents = {}
    for i, host in enumerate(hosts):
        data = os.urandom(size + i) + b"\r\n\0\xff\xfe no newline at the end"
        (farm.tmp_of(host) / f"bin-{tag}").write_bytes(data)
        contents[host.name] = data
    return contents


def test_lib_binary_output_from_several_hosts_captured_exact(farm):
    hosts = workers(farm)
    tag = marker()
    contents = _binary_files(farm, hosts, tag)
    lines = Lines()
    gateway = node(farm, farm.gateway, formatter=lines)
    nodes = {
        h.name: node(farm, h, via=gateway if h in farm.private else None, formatter=lines)
        for h in hosts
    }
    try:
        jobs = {
            name: SshJob(
                n,
                critical=False,
                commands=[
                    Run(f"cat /tmp/bin-{tag}", keep_output=True),  # kept whole
                    Run(f"cat /tmp/bin-{tag}"),
                ],
            )  # streamed as lines
            for name, n in nodes.items()
        }
        assert asyncio.run(Scheduler(*jobs.values()).co_run())
    finally:
        for host in hosts:
            (farm.tmp_of(host) / f"bin-{tag}").unlink(missing_ok=True)
    for name, job in jobs.items():
        kept, streamed = job.results
        assert kept.ok and streamed.ok
        assert hashlib.sha256(kept.stdout).digest() == hashlib.sha256(contents[name]).digest()
        assert lines.stdout(nodes[name].hostname) == contents[name]  # no byte lost/added


def test_cli_binary_output_from_several_hosts_in_files_and_json(farm, tmp_path):
    hosts = workers(farm)
    tag = marker()
    contents = _binary_files(farm, hosts, tag)
    targets = ",".join(target_of(farm, h) for h in hosts)
    try:
        files = cli("run", "-o", tmp_path / "out", "-t", targets, "--", f"cat /tmp/bin-{tag}")
        as_json = cli("run", "--json", "-t", targets, "--", f"cat /tmp/bin-{tag}")
    finally:
        for host in hosts:
            (farm.tmp_of(host) / f"bin-{tag}").unlink(missing_ok=True)
    assert files.returncode == 0, files.stderr
    for name, data in contents.items():
        assert (tmp_path / "out" / name).read_bytes() == data, name
    assert as_json.returncode == 0, as_json.stderr
    records = {r["host"]: r for r in map(json.loads, as_json.stdout.rstrip("\n").split("\n"))}
    assert set(records) == set(contents)
    for name, data in contents.items():
        assert base64.b64decode(records[name]["stdout_base64"]) == data, name


LINE = re.compile(r"^(\S+): (\S+)-(\S+)-(\d{6})-(x*)$")


def test_cli_many_hosts_many_lines_at_once_never_mixed(farm):
    """10 targets (5 hosts x 2 users) print 20000 lines each at once, some of 70 KB."""
    count = 20000
    targets = []
    for user in ("root", farm.user):
        targets += [
            f"{user}@{h.name}" if h not in farm.private else f"gateway->{user}@{h.name}"
            for h in workers(farm)
        ]
    program = (
        f'awk -v h="$(hostname)" -v u="$(id -un)" \'BEGIN {{ pad = "x"; '
        f"while (length(pad) < 70000) pad = pad pad; pad = substr(pad, 1, 70000); "
        f'for (i = 0; i < {count}; i++) print h "-" u "-" sprintf("%06d", i) '
        f'"-" (i % 997 == 0 ? pad : substr(pad, 1, i % 50)) }}\''
    )
    done = cli("run", "-t", ",".join(targets), "--", program, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    seen: dict[str, list[int]] = {}
    for line in done.stdout.splitlines():
        found = LINE.match(line)
        assert found, f"mixed or broken line: {line[:200]!r}"
        name, host, user, number, pad = found.groups()
        assert name == f"{user}@{host}", line[:200]  # the prefix is the line's host
        index = int(number)
        assert len(pad) == (70000 if index % 997 == 0 else index % 50), line[:200]
        seen.setdefault(name, []).append(index)
    assert sorted(seen) == sorted(t.split("->")[-1] for t in targets)
    for name, numbers in seen.items():
        assert numbers == list(range(count)), f"{name}: lines lost or reordered"


def test_raw_mode_keeps_bytes_exact_and_other_hosts_lines_apart():
    """The -r reporter: a host's final line without newline stays so; only when another
    host writes next is a newline put between them (pieces of one host's long line are not
    split)."""
    out = io.BytesIO()
    console = Console(out=io.TextIOWrapper(out), err=io.TextIOWrapper(io.BytesIO()), progress=False)
    reporter = LiveReporter(console, LineFormat(None), report_errors=False)
    a, b = (HostOutcome(target=Target(host=n), name=n) for n in ("a", "b"))
    for who, data in [
        (a, b"one piece "),
        (a, b"of a line\n"),
        (a, b"no newline"),
        (b, b"b line\n"),
        (b, b"\x00\xff tail"),
    ]:
        reporter.line(who, "stdout", data)
    console.out.flush()
    assert out.getvalue() == b"one piece of a line\nno newline\nb line\n\x00\xff tail"
