"""``sshjobs run`` sends its stdin to every host (when it is not a terminal), streamed: tested
on a farm of 20 real sshd hosts with a 50 MB input, in a real process whose peak memory is read
from the kernel."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import threading

import pytest
from fixtures.cli import COMMAND, sshjobs
from fixtures.farm import Farm
from fixtures.memory import PeakMemory

HOSTS = 20
INPUT_SIZE = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def farm20(farm):
    """20 directly reachable hosts (besides the session farm, which sets up HOME)."""
    with Farm(direct=HOSTS, private=0) as big:
        yield big


def _run_measured(farm: Farm, args: list[str], stdin_path: str | None) -> tuple[int, str, str, int]:
    """Run ``python -m sshjobs ARGS`` with that farm's client files; (code, out, err, peak RSS
    in KiB of that process alone)."""
    env = dict(os.environ, HOME=str(farm.home))
    env.pop("SSH_AUTH_SOCK", None)
    with contextlib.ExitStack() as closing:
        source = closing.enter_context(open(stdin_path, "rb")) if stdin_path else None
        process = subprocess.Popen(
            [*COMMAND, *args],
            env=env,
            stdin=subprocess.PIPE if source else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        memory = PeakMemory(process.pid)  # this child's own peak (not wait4's ru_maxrss)
        if source:  # through a pipe, as `producer | sshjobs run ...`

            def pump() -> None:
                with process.stdin:
                    while data := source.read(1 << 20):
                        process.stdin.write(data)

            feeder = threading.Thread(target=pump)
            feeder.start()
        out_chunks, err_chunks = [], []
        readers = [
            threading.Thread(target=lambda s=s, c=c: c.append(s.read()))
            for s, c in ((process.stdout, out_chunks), (process.stderr, err_chunks))
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        peak_kib = memory.stop()  # before the wait: a reaped child has no VmHWM
        process.wait()
        process.stdout.close()
        process.stderr.close()
        if source:
            feeder.join()
    return (process.returncode, out_chunks[0].decode(), err_chunks[0].decode(), peak_kib)


def test_50mb_stdin_reaches_20_hosts_byte_exact_with_flat_memory(farm20, tmp_path):
    data = tmp_path / "input.bin"
    digest = hashlib.sha256()
    with open(data, "wb") as out:
        block = os.urandom(1 << 20)
        for index in range(INPUT_SIZE >> 20):  # 50 different MiB
            chunk = bytes([index % 251]) + block[1:]
            out.write(chunk)
            digest.update(chunk)
    names = [host.name for host in farm20.direct]
    spec = ",".join(names)
    code, out, err, peak = _run_measured(farm20, ["run", "-t", spec, "--", "sha256sum"], str(data))
    assert code == 0, err
    expected = sorted(f"{name}: {digest.hexdigest()}  -" for name in names)
    assert sorted(out.splitlines()) == expected
    # the same run with nothing on stdin: the memory a 20-host run needs anyway
    code, out, err, baseline = _run_measured(
        farm20, ["run", "--no-stdin", "-t", spec, "--", "sha256sum"], None
    )
    assert code == 0, err
    print(f"peak RSS: {peak} KiB with 50 MB on stdin to {HOSTS} hosts, {baseline} KiB without")
    # flat: far below one copy of the input, let alone one per host (50 MB x 20). Measured
    # 2-3 MB; 9-35 MB before the feeders waited for room in each connection's socket (a whole
    # SSH window per slow host sat in asyncio's buffers)
    assert peak - baseline < 16 * 1024, (peak, baseline)


def test_a_host_that_reads_nothing_holds_no_other_back(farm):
    first, second = farm.direct[0].name, farm.direct[1].name
    payload = os.urandom(12 * 1024 * 1024)  # three times the memory buffer of the input
    result = sshjobs(
        "run",
        "--timeout",
        "60",
        "-t",
        f"{first},{second}",
        "--",
        f'if [ "$(hostname)" = {first} ]; then sha256sum; else echo skipped; fi',
        input=payload,
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(
        [f"{first}: {hashlib.sha256(payload).hexdigest()}  -", f"{second}: skipped"]
    )


def test_window_below_host_count_still_feeds_every_host_everything(farm):
    count = len(farm.private)
    payload = os.urandom(6 * 1024 * 1024)
    result = sshjobs(
        "run", "-w", "1", "-t", f"gateway->private[1-{count}]", "--", "sha256sum", input=payload
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(
        f"{host.name}: {hashlib.sha256(payload).hexdigest()}  -" for host in farm.private
    )


def test_scripts_read_stdin_and_no_stdin_turns_it_off(farm, tmp_path):
    name = farm.direct[0].name
    script = tmp_path / "reader.sh"
    script.write_text('#!/bin/sh\nread first\necho "script got $first and $1"\n')
    result = sshjobs("run", "-r", "-t", name, "-s", script, "arg", input="line one\nline two\n")
    assert (result.exit_code, result.stdout) == (0, "script got line one and arg\n"), result.stderr
    inline = sshjobs("run", "-r", "-t", name, "-s", "read x; echo inline:$x", input="abc\n")
    assert (inline.exit_code, inline.stdout) == (0, "inline:abc\n"), inline.stderr
    off = sshjobs("run", "-r", "--no-stdin", "-t", name, "--", "wc -c", input="not sent\n")
    assert (off.exit_code, off.stdout.strip()) == (0, "0"), off.stderr
