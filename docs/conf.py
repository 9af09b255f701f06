"""Sphinx configuration of the sshjobs documentation (docs/): markdown pages through MyST,
the API reference through autodoc from the docstrings (reST fields, as written in the code).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``pip install '.[docs]'``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from asynciojobs import __version__  # noqa: E402  (after the path: also from a bare checkout)

project = "sshjobs"
author = "the sshjobs maintainers"
copyright = "2026, the sshjobs maintainers"
version = release = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

# Intersphinx needs an inventory (objects.inv) of each target site. The build runs without
# network (CI reaches package registries only), so only local inventories are used, those of
# Debian's documentation packages when they are installed (python3-doc: Python's;
# python-asyncssh-doc: asyncssh's). Without them the links are simply not made: same pages, no
# warning, so the build passes on any machine.
LOCAL_INVENTORIES = {
    "python": ("https://docs.python.org/3", "/usr/share/doc/python3*/html/objects.inv"),
    "asyncssh": (
        "https://asyncssh.readthedocs.io/en/latest",
        "/usr/share/doc/python-asyncssh-doc/html/objects.inv",
    ),
}
intersphinx_mapping: dict[str, tuple[str, tuple[str, ...]]] = {}
for _name, (_url, _pattern) in LOCAL_INVENTORIES.items():
    _found = sorted(Path("/").glob(_pattern.lstrip("/")))
    if _found:
        intersphinx_mapping[_name] = (_url, (str(_found[-1]),))

html_theme = "alabaster"
html_title = f"sshjobs {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "jobs over SSH on many hosts at once",
    "fixed_sidebar": True,
    "page_width": "1160px",
    "sidebar_width": "240px",
}  # 100-column code

DOCS = Path(__file__).resolve().parent
OTHER_PAGES = "%other-pages%"  # in index.md: where the pages no toctree names are listed


def list_other_pages(app: object, docname: str, source: list[str]) -> None:
    """Put every page of docs/ that no toctree of the index names into its last toctree.

    Pages are added by several people (docs/cli.md, docs/monitor.md, ...): each is in the
    navigation as soon as it exists, without "document isn't included in any toctree" warnings
    (errors under -W); the index lists by name the ones it wants in a given place and order.
    """
    if docname != "index":
        return
    text = source[0]
    named = set(re.findall(r"^([\w./-]+)$", text, re.M))
    pages = sorted(
        page.relative_to(DOCS).with_suffix("").as_posix()
        for page in DOCS.rglob("*.md")
        if "_build" not in page.parts
    )
    others = [page for page in pages if page not in named and page != "index"]
    if others:
        text = text.replace(OTHER_PAGES, "\n".join(others))
    else:  # no page left over: no empty section
        text = re.sub(r"```\{toctree\}[^`]*" + OTHER_PAGES + r"\n```\n", "", text)
    source[0] = text


def setup(app: object) -> dict[str, bool]:
    app.connect("source-read", list_other_pages)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True}
