"""Node groups: ``@web`` in a target expression names hosts listed in a groups file.

The file is ``$SSHJOBS_GROUPS`` when set, else ``~/.config/sshjobs/groups``. One group a line::

    # racks of the testbed
    rack1: node[01-20]
    rack2: node[21-40], spare1
    compute: @rack1, @rack2      # groups may use other groups

``name: members`` where members use the target grammar of :mod:`sshjobs.targets` (ranges,
``user@host``, ``gw->host``, comma/space lists) and ``@other`` groups; ``#`` starts a comment.
Group names are letters, digits, ``_``, ``-`` and ``.``. A group used but not defined, a group
defined twice, a cycle or a malformed line is a :class:`GroupError` naming the file (and line).

This module is pure (no network, no terminal).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SshJobsError

__all__ = ["DEFAULT_GROUPS_FILE", "GroupError", "Groups", "groups_path", "load_groups"]

DEFAULT_GROUPS_FILE = "~/.config/sshjobs/groups"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
#: one member word: separated by commas or whitespace, except inside range brackets
_WORD = re.compile(r"(?:[^\s,\[]|\[[^\]]*\])+")


class GroupError(SshJobsError, ValueError):
    """A group that is unknown, or a groups file that cannot be read or understood."""


def groups_path() -> Path:
    """The groups file: ``$SSHJOBS_GROUPS`` when set, else ``~/.config/sshjobs/groups``."""
    return Path(os.environ.get("SSHJOBS_GROUPS") or DEFAULT_GROUPS_FILE).expanduser()


@dataclass
class Groups:
    """The groups of one file: name → the member words as written (``@other`` kept)."""

    path: Path
    members: dict[str, list[str]] = field(default_factory=dict)
    exists: bool = True

    def names(self) -> list[str]:
        """The group names, in file order."""
        return list(self.members)

    def expand(self, name: str, _seen: tuple[str, ...] = ()) -> list[str]:
        """The member words of group ``name``, nested groups replaced by their own members
        (ranges are left for the target parser); GroupError if unknown or cyclic."""
        if name in _seen:
            raise GroupError(
                f"group @{name} includes itself (through "
                f"{' -> '.join('@' + n for n in (*_seen, name))}) in {self.path}"
            )
        words = self.members.get(name)
        if words is None:
            where = (
                f"groups file {self.path}"
                if self.exists
                else f"no groups file: {self.path} does not exist (set SSHJOBS_GROUPS or create it)"
            )
            known = (
                f"; known groups: {', '.join('@' + n for n in self.members)}"
                if self.members
                else ""
            )
            raise GroupError(f"unknown group @{name} ({where}){known}")
        expanded: list[str] = []
        for word in words:
            if word.startswith("@"):
                expanded.extend(self.expand(word[1:], (*_seen, name)))
            else:
                expanded.append(word)
        return expanded


def load_groups(path: str | os.PathLike[str] | None = None) -> Groups:
    """Read the groups file (default :func:`groups_path`); a missing file has no group."""
    where = Path(path).expanduser() if path is not None else groups_path()
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Groups(where, exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise GroupError(f"cannot read groups file {where}: {reason}") from exc
    groups = Groups(where)
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise GroupError(
                f"{where}, line {number}: expected 'name: members', e.g. 'rack1: node[01-20]'"
            )
        if name in groups.members:
            raise GroupError(f"{where}, line {number}: group {name} is defined twice")
        groups.members[name] = _WORD.findall(value)
    return groups
