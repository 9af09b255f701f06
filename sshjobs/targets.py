"""Target grammar of the command line: which hosts to reach, as whom, and through which gateway.

A target specification (the value of one ``-t`` or ``-x``) is one of

* an existing file: whitespace- or comma-separated targets, several a line, ``#`` starts a comment;
* an existing directory: every plain file name in it is a target (what ``--mark`` produces, so a
  failed run's ``1failed/`` directory is the next run's target list);
* otherwise a list of literal targets separated by commas and/or whitespace; a word ``@name``
  is a node group, read from the groups file (:mod:`sshjobs.groups`).

An empty specification (``-t ''``, typically an unset shell variable) is an error: the current
directory is used only when named (``-t .``).

A literal target is ``[user@]host[:port]``, optionally behind gateways ``gw->host`` (also with the
Unicode arrow ``→``, chains of any depth), or ``None->host`` to force a direct connection even when
a default gateway is given. Host names may hold node ranges expanded here: ``fit[01-37]`` (zero
padding kept), ``node[1-3,7]``, steps ``node[1-9/2]``, several brackets (``r[1-2]n[1-3]``,
cartesian product). IPv6 literals are written ``[::1]`` or ``[::1]:2222``.

This module is pure (no network, no terminal); errors are :class:`TargetError`, one line each.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from sshjobs.errors import SshJobsError
from sshjobs.groups import Groups, load_groups

__all__ = [
    "LISTS_DIR",
    "MAX_EXPANSION",
    "Target",
    "TargetError",
    "expand_ranges",
    "parse_target",
    "read_spec",
    "resolve_targets",
    "split_specs",
]

logger = logging.getLogger("sshjobs.targets")

#: the largest number of names one range expression may produce (guards against typos)
MAX_EXPANSION = 100_000

_ARROWS = re.compile(r"->|→")
_RANGE_ITEM = re.compile(r"^(\d+)(?:-(\d+)(?:/(\d+))?)?$")


class TargetError(SshJobsError, ValueError):
    """A target specification cannot be understood (bad range, unreadable file, ...)."""


@dataclass(frozen=True)
class Target:
    """One host to reach: address, optional login and port, optional gateway (itself a Target).

    ``direct`` records an explicit ``None->`` prefix: no default gateway applies to this target.
    ``user`` / ``port`` left to None let ``~/.ssh/config`` and the library defaults decide.
    """

    host: str
    user: str | None = None
    port: int | None = None
    gateway: Target | None = None
    direct: bool = False

    @property
    def endpoint(self) -> str:
        """``[user@]host[:port]`` of this hop only (IPv6 addresses bracketed when a port
        follows)."""
        host = self.host
        if self.port is not None:
            host = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        return f"{self.user}@{host}" if self.user else host

    @property
    def name(self) -> str:
        """Short display name: the host, with ``:port`` when one was given."""
        if self.port is None:
            return self.host
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def chain(self) -> list[Target]:
        """Hops from the first gateway to this target (this target last)."""
        hops: list[Target] = []
        hop: Target | None = self
        while hop is not None:
            hops.append(hop)
            hop = hop.gateway
        return hops[::-1]

    def __str__(self) -> str:
        """Re-parseable form: ``gw->user@host:port`` (``None->host`` when forced direct)."""
        if self.gateway is not None:
            return f"{self.gateway}->{self.endpoint}"
        if self.direct:
            return f"None->{self.endpoint}"
        return self.endpoint

    def matches(self, pattern: Target) -> bool:
        """Whether an exclusion ``pattern`` covers this target.

        Host must be equal; user and port only count when the pattern gives them; gateways
        are ignored (excluding ``fit03`` excludes it however it is reached).
        """
        if pattern.host != self.host:
            return False
        if pattern.user is not None and pattern.user != self.user:
            return False
        return pattern.port is None or pattern.port == self.port


def _expand_bracket(body: str, whole: str) -> list[str]:
    """Numbers of one range body ``01-05,09``, zero padding of each item kept."""
    numbers: list[str] = []
    for item in body.split(","):
        match = _RANGE_ITEM.match(item.strip())
        if not match:
            raise TargetError(
                f"invalid range [{body}] in {whole!r}: expected forms like "
                f"[1-5], [01-37], [1-3,7] or [1-9/2]"
            )
        low, high, step = match.group(1), match.group(2), int(match.group(3) or 1)
        if high is None:
            numbers.append(low)
            continue
        if int(low) > int(high):
            raise TargetError(f"invalid range [{body}] in {whole!r}: {low} is greater than {high}")
        if step < 1:
            raise TargetError(f"invalid range [{body}] in {whole!r}: the step must be >= 1")
        width = len(low) if low.startswith("0") and len(low) > 1 else 0
        if (int(high) - int(low)) // step >= MAX_EXPANSION:
            raise TargetError(
                f"range [{body}] in {whole!r} is too large (more than {MAX_EXPANSION} names)"
            )
        numbers.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1, step))
    return numbers


def expand_ranges(text: str) -> list[str]:
    """Expand every node range of ``text``: ``fit[01-03]`` → ``fit01 fit02 fit03``.

    Several brackets make a cartesian product. A bracket holding a colon is an IPv6 literal and is
    left alone. Raises :class:`TargetError` for malformed or reversed ranges.
    """
    parts: list[list[str]] = []
    position = 0
    for match in re.finditer(r"\[([^\[\]]*)\]", text):
        parts.append([text[position : match.start()]])
        body = match.group(1)
        if ":" in body:
            parts.append([match.group(0)])
        else:
            parts.append(_expand_bracket(body, text))
        position = match.end()
    tail = text[position:]
    if "[" in tail or "]" in tail or any("[" in p[0] or "]" in p[0] for p in parts[::2]):
        raise TargetError(f"unbalanced bracket in {text!r}")
    parts.append([tail])
    total = 1
    for choices in parts:
        total *= len(choices)
    if total > MAX_EXPANSION:
        raise TargetError(f"{text!r} expands to {total} names (at most {MAX_EXPANSION})")
    return ["".join(combination) for combination in itertools.product(*parts)]


def split_specs(text: str) -> list[str]:
    """Split on whitespace and on commas outside brackets (``node[1-3,7]`` stays whole)."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        if depth == 0 and (char == "," or char.isspace()):
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _parse_endpoint(text: str, whole: str) -> Target:
    """``[user@]host[:port]`` of one hop, ranges already expanded."""
    user: str | None = None
    if "@" in text:
        user, text = text.rsplit("@", 1)
        if not user:
            raise TargetError(f"empty user name in {whole!r}")
    port: int | None = None
    if text.startswith("["):
        close = text.find("]")
        host, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise TargetError(f"unexpected {rest!r} after [{host}] in {whole!r}")
            port = _parse_port(rest[1:], whole)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _parse_port(port_text, whole)
    else:
        host = text  # plain name, or a bare IPv6 address without port
    if not host:
        raise TargetError(f"empty host name in {whole!r}")
    if any(c.isspace() or c in "/,'\"" for c in host):
        raise TargetError(f"invalid host name {host!r} in {whole!r}")
    return Target(host=host, user=user, port=port)


def _parse_port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetError(f"invalid port {text!r} in {whole!r}: expected a number 1-65535")
    return int(text)


def parse_target(token: str) -> Target:
    """One literal target, ranges already expanded: ``gw->user@host:port``, ``None->host``..."""
    hops = [hop.strip() for hop in _ARROWS.split(token)]
    if any(not hop for hop in hops):
        raise TargetError(f"empty hop in target {token!r}")
    direct = False
    if hops[0] == "None":
        if len(hops) == 1:
            raise TargetError("'None' is not a target (None->host forces a direct connection)")
        direct = True
        hops = hops[1:]
    if "None" in hops:
        raise TargetError(f"'None' may only start a chain, in {token!r}")
    gateway: Target | None = None
    for hop in hops:
        target = _parse_endpoint(hop, token)
        gateway = replace(target, gateway=gateway)
    assert gateway is not None
    return replace(gateway, direct=direct) if direct else gateway


def _file_tokens(path: Path) -> Iterator[str]:
    """Tokens of a target file: several per line, ``#`` to end of line is a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TargetError(f"cannot read target file {str(path)!r}: {reason}") from exc
    for line in text.splitlines():
        yield from split_specs(line.split("#", 1)[0])


def _dir_tokens(path: Path) -> Iterator[str]:
    """Plain, non-hidden file names of a directory, sorted: one target each."""
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except OSError as exc:
        raise TargetError(
            f"cannot read target directory {str(path)!r}: {exc.strerror or exc}"
        ) from exc
    for entry in entries:
        if entry.is_file() and not entry.name.startswith("."):
            yield entry.name


#: where named target lists live (``-t rack1`` reads ``~/.sshjobs/rack1`` when it exists)
LISTS_DIR = "~/.sshjobs"


def _spec_path(spec: str) -> Path:
    """The file or directory a spec names: as given, else a list under :data:`LISTS_DIR`."""
    path = Path(spec).expanduser()
    if not path.exists() and "/" not in spec and spec.strip() == spec and spec:
        saved = Path(LISTS_DIR).expanduser() / spec
        if saved.exists():
            return saved
    return path


def _group_tokens(tokens: Iterable[str], groups: Groups | None) -> Iterator[str]:
    """``tokens`` with each ``@name`` replaced by the members of that group."""
    for token in tokens:
        if token.startswith("@"):
            if groups is None:
                groups = load_groups()
            yield from groups.expand(token[1:])
        else:
            yield token


def read_spec(spec: str, groups: Groups | None = None) -> list[Target]:
    """All targets one ``-t``/``-x`` value denotes (file, directory or literal list), in order.

    A relative name that is no file here may be a list saved in ``~/.sshjobs/`` (apssh looked
    in ``~/.apssh/``). ``@name`` words are node groups of ``groups`` (default: the groups file,
    read when first needed).
    """
    if not spec.strip():
        raise TargetError(
            f"empty target {spec!r} (an unset variable?): give host names, "
            f"a file, or a directory (-t . for the current one)"
        )
    path = Path("/nonexistent") if spec.startswith("@") else _spec_path(spec)
    if path.is_dir():
        tokens: Iterable[str] = _dir_tokens(path)
        origin = f"directory {spec!r}"
    elif path.exists():
        tokens = _file_tokens(path)
        origin = f"file {spec!r}"
    elif "/" in spec and not _ARROWS.search(spec) and "[" not in spec:
        raise TargetError(f"no such target file or directory: {spec!r}")
    else:
        tokens = split_specs(spec)
        origin = ""
    targets: list[Target] = []
    for token in _group_tokens(tokens, groups):
        try:
            targets.extend(parse_target(name) for name in expand_ranges(token))
        except TargetError as exc:
            if origin:
                raise TargetError(f"{exc} (in {origin})") from exc
            raise
    if origin:
        logger.debug("%d targets read from %s", len(targets), origin)
    return targets


def _with_defaults(target: Target, login: str | None, gateway: Target | None) -> Target:
    """Apply ``-l`` to every hop without a user, and ``-g`` to a target without gateway."""
    hop_gateway = target.gateway
    if hop_gateway is not None:
        hop_gateway = _with_defaults(hop_gateway, login, None)
    elif gateway is not None and not target.direct:
        hop_gateway = gateway
    user = target.user if target.user is not None else login
    return replace(target, user=user, gateway=hop_gateway)


def resolve_targets(
    specs: Iterable[str],
    excludes: Iterable[str] = (),
    *,
    login: str | None = None,
    gateway: str | None = None,
) -> list[Target]:
    """The final target list of a run: specs expanded, defaults applied, exclusions removed.

    Duplicates (same chain, user, host and port) are kept once, first occurrence order.
    ``gateway`` is itself a target expression (``user@gw``, ``gw1->gw2``...).
    """
    default_gateway: Target | None = None
    if gateway:
        gateways = read_spec(gateway)
        if len(gateways) != 1:
            raise TargetError(f"the gateway {gateway!r} must name exactly one host")
        default_gateway = _with_defaults(gateways[0], login, None)
    patterns = [pattern for spec in excludes for pattern in read_spec(spec)]
    seen: set[str] = set()
    result: list[Target] = []
    for spec in specs:
        for target in read_spec(spec):
            target = _with_defaults(target, login, default_gateway)
            if any(target.matches(pattern) for pattern in patterns):
                continue
            key = str(target)
            if key not in seen:
                seen.add(key)
                result.append(target)
    return result
