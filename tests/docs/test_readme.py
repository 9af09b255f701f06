"""The README stays a short introduction whose links lead somewhere.

Sphinx checks the links of docs/ (a broken one is a warning, an error under -W); the README is
rendered elsewhere (a forge, PyPI), so its relative links are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
README = TOP / "README.md"


def test_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move details into docs/"


def test_readme_gives_the_two_set_up_commands() -> None:
    """bin/demo and bin/run-tests, as they are: .ci/run and newcomers rely on them."""
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), re.M | re.S)
    commands = {line.split()[0] for block in blocks for line in block.splitlines() if line}
    assert {"bin/demo", "bin/run-tests"} <= commands, commands


def test_readme_links_and_images_exist() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [target.split("#")[0] for target in targets if "://" not in target]
    assert local, "the README links to nothing in the checkout"
    broken = [target for target in local if not (TOP / target).exists()]
    assert not broken, f"README.md links to missing files: {broken}"
