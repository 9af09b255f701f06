#!/usr/bin/env python3
"""The machine and the version of every tool the benchmarks measure, as Markdown.

python3 bench/machine.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness


def main() -> int:
    harness.ensure_python(["asyncssh"])
    info = harness.machine()
    lines = [
        f"## SSH benchmarks — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, kernel "
        f"{info['kernel']}, Python {info['python']}; load average now (1/5/15 min): "
        f"{harness.load()}",
        "",
        "Versions:",
        "",
    ]
    lines += [f"- {name}: {version}" for name, version in harness.versions().items()]
    print("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
