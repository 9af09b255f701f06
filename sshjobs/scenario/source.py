"""Turn a scenario file into a tree of plain Python values that remember their line numbers.

Two steps, each reporting its own errors with the file and the line:

* optional Jinja2 rendering (``StrictUndefined``: a variable that is not defined is an error
  naming the template line, not a silent ``{{ name }}`` left in the YAML);
* YAML parsing with a ``SafeLoader`` subclass whose mappings and sequences carry the line of
  each key / item, so that later validation can point at the exact line of a bad value.

PyYAML and Jinja2 are an optional extra (``pip install sshjobs[scenario]``): they are imported
only here, only when needed, with an error that says how to install them.
"""

from __future__ import annotations

import importlib
import logging
import re
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import ScenarioError

logger = logging.getLogger("sshjobs.scenario")

#: the first line of a rendered file saved with ``save_intermediate`` (as apssh does)
INTERMEDIATE_HEADER = "# produced automatically from {source} - DO NOT EDIT\n"

_JINJA_MARKERS = re.compile(r"{{|{%|{#")


def optional_module(name: str, filename: str | None) -> ModuleType:
    """Import PyYAML or Jinja2, or fail with a one-line error telling how to get them."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ScenarioError(
            f"scenario files need the optional '{name}' module: pip install 'sshjobs[scenario]'",
            filename=filename,
        ) from exc


class LineDict(dict[Any, Any]):
    """A YAML mapping: ``line`` is where it starts, ``key_lines[key]`` where each key is."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """The line of ``key`` if present, else the line of the mapping itself."""
        key_lines: dict[Any, int] = getattr(self, "key_lines", {})
        return key_lines.get(key, self.line)


class LineList(list[Any]):
    """A YAML sequence: ``line`` is where it starts, ``item_lines[i]`` where item ``i`` is."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line


def line_of(value: Any, default: int | None = None) -> int | None:
    """The line a parsed mapping or sequence starts at (scalars do not know theirs)."""
    return getattr(value, "line", default) or default


def _make_loader(yaml: ModuleType, filename: str) -> type:
    """A SafeLoader subclass producing LineDict / LineList and refusing duplicate keys."""

    class _LineLoader(yaml.SafeLoader):  # type: ignore[name-defined,misc]
        pass

    def construct_map(loader: Any, node: Any) -> Any:
        data = LineDict()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        # keys written in this mapping may override keys merged in with '<<: *anchor'
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        loader.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            try:
                duplicate = key in seen
            except TypeError as exc:
                raise ScenarioError(
                    "a mapping key must be a plain value", filename=filename, line=key_line
                ) from exc
            if duplicate:
                raise ScenarioError(
                    f"duplicate key (first at line {data.key_lines[key]})",
                    filename=filename,
                    line=key_line,
                    key=str(key),
                )
            if id(key_node) in explicit:
                seen.add(key)
            data[key] = loader.construct_object(value_node, deep=True)
            data.key_lines[key] = key_line

    def construct_seq(loader: Any, node: Any) -> Any:
        data = LineList()
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        yield data
        data.extend(loader.construct_object(child, deep=True) for child in node.value)

    _LineLoader.add_constructor("tag:yaml.org,2002:map", construct_map)
    _LineLoader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    return _LineLoader


def parse_yaml(text: str, filename: str) -> Any:
    """Parse YAML text into LineDict / LineList / scalars; errors name the file and line."""
    yaml = optional_module("yaml", filename)
    loader = _make_loader(yaml, filename)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if (
            exc.problem
            and exc.context
            and exc.context_mark is not None
            and exc.context_mark is not mark
        ):
            problem += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        raise ScenarioError(f"invalid YAML: {problem}", filename=filename, line=line) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}", filename=filename) from exc


def needs_rendering(text: str, env: Mapping[str, Any] | None) -> bool:
    """Render when variables are given (apssh's rule) or when the text uses Jinja2 syntax
    (so that a missing ``-D`` is reported as such, not as a puzzling YAML error)."""
    return bool(env) or bool(_JINJA_MARKERS.search(text))


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised at, from Jinja2's rewritten traceback."""
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return int(lineno)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "<template>":
            return frame.lineno
    return None


def render(text: str, env: Mapping[str, Any] | None, filename: str) -> str:
    """Render ``text`` as a Jinja2 template with ``env``; an undefined variable is an error."""
    jinja2 = optional_module("jinja2", filename)
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        rendered: str = environment.from_string(text).render(**dict(env or {}))
        return rendered
    except jinja2.UndefinedError as exc:
        raise ScenarioError(
            f"template: {exc.message} (define it with -D name=value)",
            filename=filename,
            line=_template_line(exc),
        ) from exc
    except jinja2.TemplateError as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ScenarioError(
            f"template: {message}", filename=filename, line=_template_line(exc)
        ) from exc


def intermediate_path(filename: str | Path, save_intermediate: bool | str | Path) -> Path:
    """Where ``save_intermediate`` writes the rendered YAML: the given path, else the input
    name without ``.j2``, else the input name plus ``.tmp`` (apssh's rule)."""
    if save_intermediate is True:
        path = Path(filename)
        return path.with_suffix("") if path.suffix == ".j2" else Path(f"{path}.tmp")
    return Path(save_intermediate)  # type: ignore[arg-type]


class Source:
    """A scenario file's parsed tree, and whether templating moved its lines."""

    def __init__(self, tree: Any, lines_moved: bool) -> None:
        self.tree = tree
        self.lines_moved = lines_moved

    def locate(self, error: ScenarioError) -> ScenarioError:
        """Say that a line number counts in the rendered text when it differs from the file."""
        if self.lines_moved and error.line is not None:
            error.problem += " (line of the rendered template: see it with save_intermediate)"
            error.message = str(error)
            error.args = (str(error),)
        return error


def read_source(
    filename: str | Path,
    env: Mapping[str, Any] | None = None,
    *,
    save_intermediate: bool | str | Path | None = None,
) -> Source:
    """Like :func:`read_tree`, and tell whether rendering changed the line count."""
    name = str(filename)
    try:
        text = Path(filename).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", filename=name) from exc
    rendered = _render_and_save(text, env, filename, save_intermediate)
    source = Source(None, rendered.count("\n") != text.count("\n"))
    try:
        source.tree = parse_yaml(rendered, name)
    except ScenarioError as exc:
        raise source.locate(exc) from exc.__cause__
    return source


def _render_and_save(
    text: str,
    env: Mapping[str, Any] | None,
    filename: str | Path,
    save_intermediate: bool | str | Path | None,
) -> str:
    name = str(filename)
    if not needs_rendering(text, env):
        return text
    text = render(text, env, name)
    if save_intermediate:
        target = intermediate_path(filename, save_intermediate)
        try:
            target.write_text(INTERMEDIATE_HEADER.format(source=name) + text, encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(
                f"cannot save the rendered file {target}: {exc}", filename=name
            ) from exc
        logger.info("saved rendered scenario %s as %s", name, target)
    return text


def read_tree(
    filename: str | Path,
    env: Mapping[str, Any] | None = None,
    *,
    save_intermediate: bool | str | Path | None = None,
) -> Any:
    """Read, render if needed, optionally save the rendered text, and parse ``filename``."""
    return read_source(filename, env, save_intermediate=save_intermediate).tree
