"""Sphinx configuration of the sshjobs documentation (docs/): markdown pages through MyST,
the API reference through autodoc from the docstrings (reST fields, as written in the code).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``pip install '.[docs]'``).
"""

from __future__ import annotations

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
# network (CI reaches package registries only), so only local inventories are used: Python's
# from Debian's python3-doc package when it is installed. asyncssh ships none in its wheel, so
# asyncssh names are plain text. Without an inventory, the links are simply not made.
intersphinx_mapping: dict[str, tuple[str, tuple[str, ...]]] = {}
_python_inventories = sorted(Path("/usr/share/doc").glob("python3*/html/objects.inv"))
if _python_inventories:
    intersphinx_mapping["python"] = ("https://docs.python.org/3", (str(_python_inventories[-1]),))

html_theme = "alabaster"
html_title = f"sshjobs {release}"
html_static_path: list[str] = []
html_theme_options = {"description": "jobs over SSH on many hosts at once", "fixed_sidebar": True}
