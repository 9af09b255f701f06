#!/usr/bin/env python3
"""Profile one tool's fan-out on the farm with py-spy (sampling, native C frames hidden).

    python3 bench/profile.py                      # sshjobs library, 200 hosts
    python3 bench/profile.py --tool sshjobs-cli --hosts 100

Prints where the client's CPU goes: top functions by own time and by inclusive time, and the
inclusive share of each source file; writes the collapsed stacks (flamegraph input) and a
speedscope file to bench/out/.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import progress


def main() -> int:
    from tools import TOOLS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tool", default="sshjobs", choices=sorted(TOOLS))
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--command", default="true")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--bare-home", action="store_true", help="client HOME without the farm's ~/.ssh/config"
    )
    args = parser.parse_args()
    harness.ensure_python(["asyncssh"])  # py-spy lives in the peers virtualenv
    from farm import BenchFarm

    pyspy = harness.PEERS_VENV / "bin" / "py-spy"
    tool = TOOLS[args.tool]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    harness.OUT.mkdir(parents=True, exist_ok=True)
    collapsed = harness.OUT / f"profile-{args.tool}-{args.hosts}-{stamp}.txt"
    with BenchFarm(args.hosts) as farm:
        scratch = harness.workdir("profile")
        env = harness.client_env(farm.bare_home(scratch) if args.bare_home else farm.home)
        source = harness.project_source()[1]
        targets = farm.targets(scratch / "targets.json", args.hosts)
        argv = tool.build(targets, args.command, 1, scratch, scratch / "result.json")
        progress(f"profiling {args.tool} on {args.hosts} hosts ({source}); load {harness.load()}")
        subprocess.run(
            [
                str(pyspy),
                "record",
                "--format",
                "raw",
                "--rate",
                str(args.rate),
                "--subprocesses",
                "--output",
                str(collapsed),
                "--",
                *argv,
            ],
            env=tool.env(env),
            cwd="/",
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result = scratch / "result.json"
        if result.exists():
            progress(f"client result: {result.read_text()}")
    print(summarise(collapsed, args.top))
    progress(f"collapsed stacks in {collapsed}")
    return 0


def summarise(path: Path, top: int) -> str:
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    files: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [frame for frame in stack.split(";") if frame]
        # frames look like "function (path/to/file.py:line)"
        names = [_function(frame) for frame in frames]
        if names:
            own[names[-1]] += n
        for name in set(names):
            inclusive[name] += n
        for file in {_file(frame) for frame in frames}:
            files[file] += n
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "inclusive time per file:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in files.most_common(top)]
    return "\n".join(lines)


def _function(frame: str) -> str:
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0]
    return f"{name} ({_short(file)})"


def _file(frame: str) -> str:
    _, _, where = frame.partition(" (")
    return _short(where.rsplit(":", 1)[0])


def _short(file: str) -> str:
    if "sshjobs-bench-source-" in file:  # the snapshot of our code being measured
        return file.split("sshjobs-bench-source-", 1)[1].split("/", 1)[-1]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


if __name__ == "__main__":
    sys.exit(main())
