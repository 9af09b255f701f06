"""The asyncssh versions this transport package was tested with: the one place to update.

The transport uses asyncssh names asyncssh does not document (:mod:`.fastpath`,
:mod:`.connect`, :mod:`.sshconfig`); each release may move them. ``pyproject.toml`` declares
``asyncssh>=FLOOR,<CEILING`` (a test checks that it matches), and CI runs the SSH tests on
both :data:`FLOOR` (``bin/test-asyncssh-floor``) and the newest release.

Found by installing each version and running the SSH tests: 2.18 and older lack the
``SSHClientConfig`` signature the config handling needs (every connection fails).
"""

from __future__ import annotations

import re

__all__ = ["CEILING", "FLOOR", "TESTED", "version_tuple"]

#: the oldest asyncssh the SSH tests pass with
FLOOR = "2.19.0"
#: the first minor release not tested yet (excluded)
CEILING = "2.25"
#: every version the SSH tests were run with
TESTED = ("2.19.0", "2.21.1", "2.24.1")


def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.19.0"`` → ``(2, 19, 0)``; a pre-release suffix is dropped (``"2.21.0rc1"``)."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(part) for part in match.groups() if part is not None)
