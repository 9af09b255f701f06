"""Shared plumbing of the benchmark clients (stdlib only: imported from several venvs).

Every client is a separate program run by the harness as a subprocess, so that its wall time,
CPU time (user + sys of its whole process tree) and peak memory are measured by the kernel
(`os.wait4`). A client reads a targets file written by the harness, runs `--command` on every
host (`--repeat` times in sequence on each host, sharing the connection when the tool can), and
writes a small JSON summary to `--result`.

Targets file (JSON): {"user": str, "key": path, "known_hosts": path,
                      "hosts": [{"name", "address", "port"}, ...],
                      "gateway": {"name", "address", "port"} or null}
When "gateway" is set, every host is reached through it (hosts are private).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

# the clock starts when the client starts importing its tool
T_START = time.monotonic()


@dataclass
class Targets:
    user: str
    key: str
    known_hosts: str
    hosts: list[dict[str, Any]]
    gateway: dict[str, Any] | None = None


@dataclass
class Outcome:
    """What a client reports; the harness adds the kernel's measurements."""

    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    t_ready: float = 0.0  # seconds from start until imports and set-up were done
    t_run: float = 0.0  # seconds spent in the fan-out itself

    def fail(self, host: str, error: object) -> None:
        self.failed += 1
        if len(self.errors) < 5:
            self.errors.append(f"{host}: {type(error).__name__}: {error}"[:300])


def parse_args(description: str) -> tuple[argparse.Namespace, Targets]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("targets", help="targets JSON file written by the harness")
    parser.add_argument("--command", default="true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the command this many times in sequence on each host",
    )
    parser.add_argument("--result", help="where to write the JSON summary (default: stdout)")
    args = parser.parse_args()
    with open(args.targets) as stream:
        targets = Targets(**json.load(stream))
    return args, targets


class Clock:
    """Marks the end of set-up and the end of the fan-out."""

    def __init__(self) -> None:
        self.t0 = 0.0

    def ready(self, outcome: Outcome) -> None:
        self.t0 = time.monotonic()
        outcome.t_ready = self.t0 - T_START

    def done(self, outcome: Outcome) -> None:
        outcome.t_run = time.monotonic() - self.t0


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    text = json.dumps(outcome.__dict__)
    if args.result:
        with open(args.result, "w") as stream:
            stream.write(text)
    else:
        print(text)
