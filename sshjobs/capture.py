"""Values captured by one command, used by later ones (apssh ``Capture``, ``Variables``,
``Deferred``).

``Capture(varname, variables)`` given as ``capture=`` to ``Run``/``RunScript``/``RunString``
stores that command's stdout (exact bytes decoded as UTF-8, one trailing newline stripped) into
``variables[varname]``; the raw bytes stay in the command's result (``result.stdout``). Unlike
apssh, the node's formatter is never swapped: the capture belongs to the command's own session,
so concurrent jobs on one node cannot corrupt each other.

``Deferred(template, variables)`` is rendered when the command runs (Jinja2 with undefined names
kept as ``{{name}}``, so graphs drawn before the run still show something).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Capture", "Deferred", "Variables"]


class Variables(dict[str, Any]):
    """A dict whose keys are also attributes; a missing attribute reads as ``""``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name, "")

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


_PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")


def _render(template: str, variables: Mapping[str, Any]) -> str:
    try:
        import jinja2
    except ImportError:  # optional dependency: plain {{name}} substitution
        return _PLACEHOLDER.sub(
            lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
            template,
        )
    env = _render.__dict__.get("env")
    if env is None:
        env = jinja2.Environment(undefined=jinja2.DebugUndefined, keep_trailing_newline=True)
        _render.__dict__["env"] = env
    return env.from_string(template).render(**variables)


class Deferred:
    """A string computed at the last moment from ``variables`` (a Jinja2 template)."""

    def __init__(self, template: str, variables: Variables) -> None:
        self.template = template
        self.variables = variables

    def __str__(self) -> str:
        return _render(self.template, self.variables)

    def __repr__(self) -> str:
        return f"Deferred({self.template!r})"

    def replace(self, old: str, new: str) -> Deferred:
        """A Deferred with ``old`` replaced by ``new`` in the template, same variables."""
        return Deferred(self.template.replace(old, new), self.variables)

    def dup_from_string(self, template: str) -> Deferred:
        """Another Deferred sharing our variables."""
        return Deferred(template, self.variables)


class Capture:
    """Where to store a command's stdout: ``variables[varname]``."""

    def __init__(self, varname: str, variables: Variables) -> None:
        self.varname = varname
        self.variables = variables

    def store(self, data: bytes) -> None:
        """Record captured stdout (decoded; undecodable bytes kept as surrogate escapes)."""
        text = data.decode("utf-8", errors="surrogateescape")
        if text.endswith("\n"):
            text = text[:-1]
        self.variables[self.varname] = text

    def __repr__(self) -> str:
        return f"Capture({self.varname!r})"
