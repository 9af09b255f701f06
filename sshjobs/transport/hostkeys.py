"""Host-key verification, following OpenSSH's rules: ``strict``, ``accept-new`` or ``ignore``.

The policy of a host is the first of these that applies (:func:`resolve_mode`):

1. an explicit setting: ``SshNode(host_keys=...)``, ``sshjobs --host-keys``, a scenario's
   ``host_key``; ``SshNode(known_hosts=None)`` keeps apssh's meaning (no check);
2. ``SSHJOBS_HOST_KEYS`` in the environment;
3. ``StrictHostKeyChecking`` in the ssh config for that host (``yes``/``ask`` → strict: nothing
   ever prompts; ``accept-new``; ``no``/``off`` → ignore);
4. **accept-new**, OpenSSH's recommendation for automation: a host never seen is trusted and
   its key recorded; a host whose key differs from the recorded one is refused.

Keys are read as OpenSSH reads them, through asyncssh's known_hosts support (hashed names,
``[host]:port``, ``@cert-authority``, ``@revoked``): the user files (``UserKnownHostsFile``,
default ``~/.ssh/known_hosts`` and ``~/.ssh/known_hosts2``, after any file given to the node)
and the global ones (``GlobalKnownHostsFile``, default ``/etc/ssh/ssh_known_hosts`` and
``/etc/ssh/ssh_known_hosts2``). A new key is appended to the first user file (its directory
made 0700 and the file 0600 when missing), under the name the client connected to (a host
behind a gateway under its own name), hashed when ``HashKnownHosts yes``. Nothing prompts;
a refusal becomes a :class:`~sshjobs.errors.HostKeyError` whose message says what to do.

Known-hosts files are parsed once per process (again when one changes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

__all__ = [
    "DEFAULT_GLOBAL_FILES",
    "DEFAULT_USER_FILES",
    "ENV_VAR",
    "HOST_KEY_MODES",
    "HostKeyPolicy",
    "HostKeyVerdict",
    "SshConfigHostKeys",
    "check_mode",
    "resolve_mode",
]

logger = logging.getLogger(__name__)

#: the policy names, for the library, the command line and scenario files
HOST_KEY_MODES = ("strict", "accept-new", "ignore")
#: the environment variable giving the policy when no explicit setting does
ENV_VAR = "SSHJOBS_HOST_KEYS"
#: OpenSSH's defaults for UserKnownHostsFile and GlobalKnownHostsFile
DEFAULT_USER_FILES = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_FILES = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
#: ``StrictHostKeyChecking`` values and the policy each means here
STRICT_HOST_KEY_CHECKING = {
    "yes": "strict",
    "ask": "strict",
    "accept-new": "accept-new",
    "no": "ignore",
    "off": "ignore",
}

_parsed: dict[tuple[Any, ...], Any] = {}
_record_lock = threading.Lock()


def check_mode(value: Any, where: str) -> str:
    """``value`` if it is a policy name, else ValueError in one line naming ``where`` it came
    from and the valid names."""
    if value in HOST_KEY_MODES:
        return str(value)
    raise ValueError(
        f"{where}: unknown host-key mode {value!r}; use one of {', '.join(HOST_KEY_MODES)}"
    )


@dataclass(frozen=True)
class SshConfigHostKeys:
    """What the ssh config says about host keys for one host (None: not set there)."""

    strict_host_key_checking: str | None = None
    user_files: tuple[str, ...] | None = None
    global_files: tuple[str, ...] | None = None
    hash_known_hosts: bool = False
    source: str = "ssh config"  # the config files, for messages


def resolve_mode(
    host_keys: str | None,
    known_hosts: Any,
    config: SshConfigHostKeys,
    environ: Mapping[str, str] = os.environ,
) -> tuple[str, str]:
    """The policy of a host and where it comes from (for messages); ValueError if the value
    that applies is not a valid one."""
    if host_keys is not None:
        return check_mode(host_keys, "host_keys"), f"host_keys={host_keys}"
    if known_hosts is None:
        return "ignore", "known_hosts=None"
    from_env = environ.get(ENV_VAR)
    if from_env:
        return check_mode(from_env, ENV_VAR), f"{ENV_VAR}={from_env}"
    value = config.strict_host_key_checking
    if value is not None:
        mode = STRICT_HOST_KEY_CHECKING.get(value.lower())
        if mode is None:
            raise ValueError(
                f"StrictHostKeyChecking {value} ({config.source}): unknown value; "
                f"use one of {', '.join(STRICT_HOST_KEY_CHECKING)}"
            )
        return mode, f"StrictHostKeyChecking {value} in {config.source}"
    return "accept-new", "default"


def _expand(paths: Sequence[Any]) -> list[str]:
    return [str(Path(p).expanduser()) for p in paths if p]


def _stat_key(path: str) -> tuple[Any, ...]:
    try:
        st = os.stat(path)
        return (path, st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return (path, None, None, None)


def _remember(key: tuple[Any, ...], known: Any) -> None:
    """Cache parsed keys per file versions (a few sets of files per process at most)."""
    if len(_parsed) >= 32:
        _parsed.clear()
    _parsed[key] = known


def _load_file(known: Any, path: str) -> None:
    """Add ``path``'s entries to ``known`` (asyncssh's parser); a line asyncssh cannot read is
    skipped with a warning, as OpenSSH does, instead of losing the whole file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        return
    except OSError as exc:
        logger.warning("cannot read known_hosts file %s: %s", path, exc)
        return
    try:
        known.load(text)
        return
    except ValueError:
        pass
    for number, line in enumerate(text.splitlines(), 1):
        try:
            known.load(line)
        except ValueError as exc:
            logger.warning("%s:%d: ignored: %s", path, number, exc)


def _hashed(name: str) -> str:
    """``name`` as OpenSSH's ``HashKnownHosts`` writes it: ``|1|salt|HMAC-SHA1(salt, name)``."""
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def known_name(host: str, port: int | None) -> str:
    """The name of a host in known_hosts: ``host``, or ``[host]:port`` off port 22."""
    return host if not port or port == 22 else f"[{host}]:{port}"


def host_pattern(host: str) -> str:
    """A ``Host`` pattern for the family of ``host`` (``fit01`` → ``fit*``), for the hint."""
    stem = re.sub(r"\d+$", "", host)
    return f"{stem}*" if stem and stem != host else host


@dataclass
class HostKeyVerdict:
    """What the policy saw for one connection attempt (used to build error messages)."""

    received: str | None = None
    expected: tuple[str, ...] = ()
    recorded: bool = False
    host: str | None = None
    port: int | None = None
    #: where the expected keys are: (file, line number, name to give ``ssh-keygen -R``)
    locations: tuple[tuple[str, int, str], ...] = ()


@dataclass
class HostKeyPolicy:
    """Which keys we trust, and what to do with unknown ones.

    ``user_files`` are read and the first one records new keys (unless ``record_file``);
    ``global_files`` are only read. Missing files are fine.
    """

    mode: str = "accept-new"
    user_files: list[str] = field(default_factory=list)
    global_files: list[str] = field(default_factory=list)
    record_file: str | None = None
    hash_names: bool = False
    source: str = "default"

    def __post_init__(self) -> None:
        check_mode(self.mode, "host-key policy")
        if self.record_file is None and self.user_files:
            self.record_file = self.user_files[0]

    @property
    def files(self) -> list[str]:
        """Every known_hosts file read, user files first."""
        return list(dict.fromkeys([*self.user_files, *self.global_files]))

    @classmethod
    def build(
        cls,
        known_hosts: Any,
        host_keys: str | None,
        record_file: str | os.PathLike[str] | None = None,
        config: SshConfigHostKeys = SshConfigHostKeys(),
        environ: Mapping[str, str] = os.environ,
    ) -> HostKeyPolicy:
        """From SshNode arguments: ``known_hosts`` is ``None`` (apssh: no check unless a mode
        is given), ``...``/``()`` (the standard files only), or a path or list of paths read
        before the user's files (the first one records new keys); ``config``: what the ssh
        config says for the host. ValueError if the mode that applies is unknown."""
        mode, source = resolve_mode(host_keys, known_hosts, config, environ)
        extra: list[str] = []
        if isinstance(known_hosts, (str, os.PathLike)):
            extra = _expand([known_hosts])
        elif isinstance(known_hosts, (list, tuple)):
            extra = _expand(known_hosts)
        users = _expand(config.user_files if config.user_files is not None else DEFAULT_USER_FILES)
        globals_ = _expand(
            config.global_files if config.global_files is not None else DEFAULT_GLOBAL_FILES
        )
        record = str(Path(record_file).expanduser()) if record_file else None
        return cls(
            mode,
            list(dict.fromkeys([*extra, *users])),
            globals_,
            record,
            config.hash_known_hosts,
            source,
        )

    def known_hosts_arg(self) -> Any:
        """The ``known_hosts`` argument for asyncssh: ``None`` to ignore, else parsed keys."""
        if self.mode == "ignore":
            return None
        files = self.files
        key = tuple(_stat_key(f) for f in files)
        known = _parsed.get(key)
        if known is None:
            known = asyncssh.SSHKnownHosts()
            for path in files:
                _load_file(known, path)
            _remember(key, known)
        return known

    def validate(
        self, host: str, addr: str, port: int | None, key: Any, verdict: HostKeyVerdict
    ) -> bool:
        """Called by asyncssh for a key not in the trusted list; True to accept it."""
        verdict.received = key.get_fingerprint()
        verdict.host, verdict.port = host, port
        known = self.known_hosts_arg()
        trusted = known.match(host, addr, port)[0] if known is not None else []
        if key in trusted:  # recorded since this connection started (one to the same host)
            return True
        verdict.expected = tuple(dict.fromkeys(k.get_fingerprint() for k in trusted))
        if self.mode == "accept-new" and not trusted:
            self._record(host, port, key)
            verdict.recorded = True
            return True
        if trusted:
            verdict.locations = tuple(self._locate(host, addr, port))
        return False

    def _locate(self, host: str, addr: str, port: int | None) -> list[tuple[str, int, str]]:
        """Where the keys recorded for the host are: file, line, and the name ``ssh-keygen -R``
        must be given for that line (the host's, or its address')."""
        found = []
        for path in self.files:
            try:
                lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for number, line in enumerate(lines, 1):
                if line.lstrip().startswith(("#", "@")) or not line.strip():
                    continue
                try:
                    entry = asyncssh.SSHKnownHosts(line)
                except ValueError:
                    continue
                if not entry.match(host, addr, port)[0]:
                    continue
                by_name = entry.match(host, "", port)[0] if not _is_address(host) else True
                found.append((path, number, known_name(host if by_name else addr, port)))
        return found

    def _record(self, host: str, port: int | None, key: Any) -> None:
        """Append the key of a new host to the record file, and to the parsed keys in memory
        (so that a fan-out over N new hosts does not parse the growing file N times, and a
        second connection to the same new host finds it trusted)."""
        path = self.record_file
        name = known_name(host, port)
        if not path or os.path.realpath(path) == os.devnull:
            logger.info(
                "trusting new host %s (%s); not recorded (no known_hosts file)",
                name,
                key.get_fingerprint(),
            )
            return
        keytype, data = key.export_public_key("openssh").decode().split()[:2]
        line = f"{_hashed(name) if self.hash_names else name} {keytype} {data}\n"
        with _record_lock:
            before = tuple(_stat_key(f) for f in self.files)
            known = self.known_hosts_arg()
            directory = Path(path).parent
            if not directory.exists():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line)
            if known is not None:
                known.load(line)
                # the parse now holds the new line: it is no longer that of the files as they
                # were (a known_hosts removed since must not bring the key back)
                _parsed.pop(before, None)
                _remember(tuple(_stat_key(f) for f in self.files), known)
        logger.info("recorded new host key for %s (%s) in %s", name, key.get_fingerprint(), path)

    def describe(self) -> str:
        """The files read, for messages."""
        present = [f for f in self.files if os.path.exists(f) and f != os.devnull]
        return ", ".join(present) if present else "no known_hosts file"

    def refusal(
        self,
        verdict: HostKeyVerdict,
        host: str,
        port: int | None,
        reason: str = "",
    ) -> str:
        """The one-line message of a refused host key: what was seen, where the recorded key
        is, and the exact command or setting that fixes it. ``host`` is the name the node
        was given (what ssh config ``Host`` patterns match), the key is recorded under the
        name asyncssh connected to (``HostName``)."""
        given, host = host, verdict.host or host
        port = verdict.port if verdict.host else port
        name = known_name(host, port)
        if verdict.received is None:  # refused by asyncssh itself (revoked key, CA...)
            return (
                f"host key of {name} refused: {reason or 'not verifiable'} "
                f"(known_hosts files: {self.describe()})"
            )
        if not verdict.expected:
            return (
                f"unknown host key {verdict.received} for {name} (not in "
                f"{self.describe()}) and the host-key policy is strict ({self.source}); "
                f"add the key to known_hosts, or trust new hosts with accept-new "
                f"(host_keys='accept-new', sshjobs --host-keys accept-new)"
            )
        where = (
            ", ".join(f"{path}:{line}" for path, line, _ in verdict.locations) or self.describe()
        )
        fixes = (
            "; ".join(
                dict.fromkeys(
                    f"ssh-keygen -R {shlex.quote(removed)} -f {shlex.quote(path)}"
                    for path, _, removed in verdict.locations
                )
            )
            or f"ssh-keygen -R {shlex.quote(name)}"
        )
        return (
            f"host key MISMATCH for {name}: the server presents {verdict.received} but "
            f"{where} has {', '.join(verdict.expected)}; if the host was reinstalled, "
            f"remove the old key with: {fixes}; on a testbed whose nodes are re-imaged, "
            f"skip the check for those hosts only in ~/.ssh/config: "
            f"'Host {host_pattern(given)}' with 'StrictHostKeyChecking no' and "
            f"'UserKnownHostsFile /dev/null'"
        )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
