"""Per-host reduced copies of ssh config files, so that asyncssh parses little per host.

asyncssh re-reads and re-tokenises every ssh config file in full for each lookup (once per
connection, and once more per host for the options sshjobs needs up front). With a config
holding one ``Host`` block per host - common on testbeds - that is O(hosts x config size) and
dominates the client's CPU on large fan-outs.

asyncssh stays the one interpreter of the config: this module only *drops lines asyncssh
would skip anyway*. Each file version (path, mtime, size, inode) is split once into its global
lines (before the first ``Host``) and its ``Host`` blocks. For a host, the reduced config is
the global lines plus, in file order, the blocks whose patterns match the host (or one of the
hosts asyncssh will look up in the same files for that connection: its ProxyJump hops) -
keeping a block too many is harmless, as asyncssh evaluates each ``Host`` line again; decided with
asyncssh's own pattern matcher on the very host name asyncssh is given, so the options it
resolves are the same as from the full file. Files asyncssh could resolve differently from a
reduced copy (``Match``, ``Include``, ``CanonicalizeHostname`` - which re-reads the config for
another host name -, lines it cannot tokenise, a ``Host`` without pattern, unreadable files)
are used as they are.

Reduced texts are written once each, named by a hash of their content (hosts with the same
reduced config share one file), into a private directory (mode 0700) of this process, removed
at exit.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shlex
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from asyncssh.pattern import WildcardPatternList

__all__ = [
    "Tokens",
    "config_text_path",
    "config_tokens",
    "file_stamp",
    "reduced_config_paths",
    "written_by_us",
]

logger = logging.getLogger(__name__)

# keywords after which the rest of the file cannot be reduced per host
_NOT_REDUCIBLE = {"match", "include", "canonicalizehostname"}
_CONDITIONALS = {"host", "match"}  # asyncssh splits '=' in all arguments of these only


#: a config line tokenised as asyncssh does: (lower-case keyword, arguments)
Tokens = tuple[str, tuple[str, ...]]


@dataclass
class _Block:
    """A ``Host`` block: its matcher, its lines and their tokens (the ``Host`` line included)."""

    matcher: WildcardPatternList
    lines: list[str] = field(default_factory=list)
    tokens: list[Tokens] = field(default_factory=list)


@dataclass
class _SplitFile:
    """A config file split once: global lines, blocks, and an index of literal patterns."""

    head: list[str]
    blocks: list[_Block]
    by_name: dict[str, list[int]]  # literal positive pattern -> blocks (only-literal blocks)
    general: list[int]  # blocks needing a pattern match (wildcards, negations)
    head_tokens: list[Tokens] = field(default_factory=list)

    def chosen(self, hosts: tuple[str, ...]) -> list[int]:
        found: set[int] = set()
        for host in hosts:
            found.update(self.by_name.get(host, ()))
            found.update(i for i in self.general if self.blocks[i].matcher.matches(host))
        return sorted(found)

    def reduce(self, hosts: tuple[str, ...]) -> str:
        lines = list(self.head)
        for i in self.chosen(hosts):
            lines.extend(self.blocks[i].lines)
        return "".join(lines)

    def tokens(self, host: str) -> list[Tokens]:
        """The tokenised lines of the reduced copy for ``host``, in file order."""
        found = list(self.head_tokens)
        for i in self.chosen((host,)):
            found.extend(self.blocks[i].tokens)
        return found


def _keyword_and_args(line: str) -> tuple[str, list[str]] | None:
    """The lower-case keyword of a config line and its arguments, tokenised as asyncssh does;
    None for a blank or comment line. Raises ValueError when shlex cannot split it."""
    line = line.strip()
    if not line or line[0] == "#":
        return None
    args: list[str] = []
    keyword = ""
    allow_equal = True
    split = shlex.split(line)
    for i, arg in enumerate(split, 1):
        if arg.startswith("="):
            if len(arg) > 1:
                args.append(arg[1:])
        elif not allow_equal:
            args.extend(split[i - 1 :])  # the rest is kept verbatim
            break
        elif arg.endswith("="):
            args.append(arg[:-1])
        elif "=" in arg:
            args.extend(arg.split("=", 1))
        else:
            args.append(arg)
        if i == 1:
            keyword = args.pop(0).lower() if args else ""
            allow_equal = keyword in _CONDITIONALS
    return keyword, args


def split_text(text: str) -> _SplitFile | None:
    """Split a config text into global lines and ``Host`` blocks; None if not reducible."""
    head: list[str] = []
    head_tokens: list[Tokens] = []
    blocks: list[_Block] = []
    literals: list[list[str] | None] = []  # per block: its names if all literal & positive
    try:
        for line in text.splitlines(keepends=True):
            parsed = _keyword_and_args(line)
            if parsed is None:
                continue
            keyword, args = parsed
            if keyword in _NOT_REDUCIBLE or (keyword == "host" and not args):
                return None
            if not line.endswith("\n"):
                line += "\n"
            tokens = (keyword, tuple(args))
            if keyword == "host":
                patterns = ",".join(args)
                blocks.append(_Block(WildcardPatternList(patterns), [line], [tokens]))
                names = patterns.split(",")
                literal = all(
                    not n.startswith("!") and "*" not in n and "?" not in n for n in names
                )
                literals.append(names if literal else None)
            elif blocks:
                blocks[-1].lines.append(line)
                blocks[-1].tokens.append(tokens)
            else:
                head.append(line)
                head_tokens.append(tokens)
    except ValueError:  # shlex error: asyncssh will report it from the full file
        return None
    by_name: dict[str, list[int]] = {}
    general: list[int] = []
    for i, literal_names in enumerate(literals):
        if literal_names is not None:
            for name in dict.fromkeys(literal_names):
                by_name.setdefault(name, []).append(i)
        else:
            general.append(i)
    return _SplitFile(head, blocks, by_name, general, head_tokens)


def file_stamp(path: str) -> tuple[Any, ...] | None:
    """What identifies a file version: (mtime_ns, size, inode); None if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _ReducedConfigs:
    """Per-process cache: split files per version, reduced paths per (version, host)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._splits: dict[str, tuple[tuple[Any, ...] | None, _SplitFile | None]] = {}
        self._reduced: dict[tuple[Any, ...], str] = {}
        self._written: set[str] = set()
        self._dir: str | None = None
        self._dir_pid = 0
        self.split_count = 0  # how many times a file was read and split (for tests)

    def _split(self, path: str, stamp: tuple[Any, ...] | None) -> _SplitFile | None:
        cached = self._splits.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        split: _SplitFile | None = None
        if stamp is not None:
            try:
                with open(path) as file:  # same decoding as asyncssh
                    text = file.read()
            except (OSError, UnicodeDecodeError):
                text = None
            if text is not None:
                self.split_count += 1
                split = split_text(text)
                if split is None:
                    logger.debug("ssh config %s is used unreduced (Match, Include, ...)", path)
        self._splits[path] = (stamp, split)
        # a new version makes the reduced copies of the old one stale
        self._reduced = {k: v for k, v in self._reduced.items() if k[0] != path}
        return split

    def directory(self) -> str:
        if self._dir is None or self._dir_pid != os.getpid():
            self._dir = tempfile.mkdtemp(prefix="sshjobs-sshconfig-")  # mode 0700
            self._dir_pid = os.getpid()
            self._written = set()
            atexit.register(_remove_dir, self._dir, self._dir_pid)
        return self._dir

    def _write(self, text: str) -> str:
        name = hashlib.sha256(text.encode()).hexdigest()[:32] + ".conf"
        path = os.path.join(self.directory(), name)
        if path not in self._written or not os.path.exists(path):
            fd, tmp = tempfile.mkstemp(dir=self.directory(), suffix=".tmp")
            with os.fdopen(fd, "w") as file:
                file.write(text)
            os.replace(tmp, path)
            self._written.add(path)
        return path

    def reduced_path(self, path: str, hosts: tuple[str, ...]) -> str:
        stamp = file_stamp(path)
        with self._lock:
            split = self._split(path, stamp)
            if split is None:
                return path
            key = (path, stamp, hosts)
            found = self._reduced.get(key)
            if found is None or not os.path.exists(found):
                try:
                    found = self._write(split.reduce(hosts))
                except OSError as exc:
                    logger.warning("cannot write a reduced copy of ssh config %s: %s", path, exc)
                    return path
                self._reduced[key] = found
            return found

    def tokens(self, path: str, host: str) -> list[Tokens] | None:
        """The lines of ``path`` that concern ``host``, tokenised; None if not reducible."""
        with self._lock:
            split = self._split(path, file_stamp(path))
        return None if split is None else split.tokens(host)

    def directory_if_any(self) -> str | None:
        return self._dir if self._dir_pid == os.getpid() else None


def _remove_dir(path: str, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


_CACHE = _ReducedConfigs()


def reduced_config_paths(paths: list[str], host: str, *others: str) -> list[str]:
    """``paths`` with each file replaced by its copy reduced to what concerns ``host`` and
    ``others`` (asyncssh resolves the same options for each of them from either) - ``others``
    are the hosts asyncssh looks up in the same files for that connection (ProxyJump)."""
    hosts = tuple(dict.fromkeys((host, *others)))
    return [_CACHE.reduced_path(path, hosts) for path in paths]


def config_text_path(text: str) -> str:
    """A file holding ``text`` (ssh config lines made by sshjobs itself, e.g. the ``-O`` options
    of :mod:`sshjobs.sshoptions`), written once into this process's private directory."""
    with _CACHE._lock:
        return _CACHE._write(text)


def config_tokens(paths: list[str], host: str) -> list[Tokens] | None:
    """The lines of ``paths`` that concern ``host`` (those of its reduced copies), tokenised
    as asyncssh tokenises them, in order - from the split made once per file version; None
    when a file cannot be reduced (asyncssh must read it itself)."""
    found: list[Tokens] = []
    for path in paths:
        tokens = _CACHE.tokens(path, host)
        if tokens is None:
            return None
        found.extend(tokens)
    return found


def written_by_us(path: str) -> bool:
    """Whether ``path`` is a file of this process's private directory (a reduced copy, or the
    ``ssh_options`` of a node), not one the user wrote."""
    directory = _CACHE.directory_if_any()
    return directory is not None and os.path.dirname(path) == directory
