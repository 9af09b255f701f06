"""Host-key verification policy: ``strict`` (default), ``accept-new`` or ``ignore``.

apssh never checked host keys. We verify them by default against the user's
``~/.ssh/known_hosts`` plus any file given, never prompt, and turn a refusal into a
:class:`~sshjobs.errors.HostKeyError` that names the host and the fingerprints involved.

``accept-new`` (OpenSSH's ``StrictHostKeyChecking=accept-new``) trusts a host seen for the
first time and records its key in a file; a host whose recorded key differs is still refused.
``ignore`` disables the check (what apssh did; ``known_hosts=None`` selects it too).

Known-hosts files are parsed once per process (re-read when they change).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import asyncssh

__all__ = ["HOST_KEY_MODES", "HostKeyPolicy", "HostKeyVerdict"]

logger = logging.getLogger(__name__)

HOST_KEY_MODES = ("strict", "accept-new", "ignore")

_parsed: dict[tuple, Any] = {}


def _stat_key(path: str) -> tuple:
    try:
        st = os.stat(path)
        return (path, st.st_mtime_ns, st.st_size)
    except OSError:
        return (path, None, None)


@dataclass
class HostKeyVerdict:
    """What the policy saw for one connection attempt (used to build error messages)."""

    received: str | None = None
    expected: tuple[str, ...] = ()
    recorded: bool = False


@dataclass
class HostKeyPolicy:
    """Which keys we trust, and what to do with unknown ones.

    ``files``: known_hosts files to read (missing ones are fine). ``record_file``: where
    ``accept-new`` writes keys of new hosts.
    """

    mode: str = "strict"
    files: list[str] = field(default_factory=list)
    record_file: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in HOST_KEY_MODES:
            raise ValueError(f"host key mode must be one of {', '.join(HOST_KEY_MODES)}, "
                             f"not {self.mode!r}")

    @classmethod
    def build(cls, known_hosts: Any, mode: str | None,
              record_file: str | os.PathLike | None = None,
              config_files: Sequence[str] = ()) -> "HostKeyPolicy":
        """From SshNode arguments: ``known_hosts`` is ``None`` (apssh: no check), ``...`` /
        ``()`` (the user's file only), or a path or list of paths added to the user's file;
        ``config_files``: ``UserKnownHostsFile`` entries of the ssh config, also trusted."""
        user_file = str(Path("~/.ssh/known_hosts").expanduser())
        if known_hosts is None and mode is None:
            return cls("ignore")
        extra: list[str] = []
        if isinstance(known_hosts, (str, os.PathLike)):
            extra = [str(Path(known_hosts).expanduser())]
        elif isinstance(known_hosts, (list, tuple)):
            extra = [str(Path(p).expanduser()) for p in known_hosts]
        files = list(dict.fromkeys([user_file, *config_files, *extra]))
        record = str(record_file) if record_file else (extra[0] if extra else user_file)
        return cls(mode or "strict", files, record)

    def known_hosts_arg(self) -> Any:
        """The ``known_hosts`` argument for asyncssh: ``None`` to ignore, else parsed keys."""
        if self.mode == "ignore":
            return None
        key = tuple(_stat_key(f) for f in self.files)
        known = _parsed.get(key)
        if known is None:
            known = asyncssh.SSHKnownHosts()
            for path in self.files:
                try:
                    with open(path, encoding="utf-8") as handle:
                        known.load(handle.read())
                except FileNotFoundError:
                    continue
                except (OSError, ValueError) as exc:
                    logger.warning("ignoring known_hosts file %s: %s", path, exc)
            _parsed[key] = known
        return known

    def validate(self, host: str, addr: str, port: int | None, key: Any,
                 verdict: HostKeyVerdict) -> bool:
        """Called by asyncssh for a key not in the trusted list; True to accept it."""
        verdict.received = key.get_fingerprint()
        known = self.known_hosts_arg()
        trusted = known.match(host, addr, port)[0] if known is not None else []
        verdict.expected = tuple(dict.fromkeys(k.get_fingerprint() for k in trusted))
        if self.mode == "accept-new" and not trusted:
            self._record(host, port, key)
            verdict.recorded = True
            return True
        return False

    def _record(self, host: str, port: int | None, key: Any) -> None:
        assert self.record_file
        name = host if not port or port == 22 else f"[{host}]:{port}"
        keytype, data = key.export_public_key("openssh").decode().split()[:2]
        path = Path(self.record_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{name} {keytype} {data}\n")
        logger.info("recorded new host key for %s (%s) in %s", name, key.get_fingerprint(), path)

    @staticmethod
    def describe(files: Sequence[str]) -> str:
        return ", ".join(files) if files else "(no known_hosts file)"
