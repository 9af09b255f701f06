"""Arguments that are not UTF-8 reach the remote command as the bytes they are, as with ssh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))


def test_non_utf8_arguments_are_passed_as_bytes(farm):
    done = subprocess.run(
        [
            SSHJOBS.encode(),
            b"run",
            b"-r",
            b"-t",
            farm.direct[0].name.encode(),
            b"--",
            b"printf",
            b"%s,",
            b"\xff\xfe",
            b"caf\xc3\xa9",
        ],
        capture_output=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, b"\xff\xfe,caf\xc3\xa9,"), done.stderr
