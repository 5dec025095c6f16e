"""The Python blocks of the README and docs/ parse and use no undefined name.

Each page's blocks are read in order as one program (a later block may use an earlier one's
names), so a snippet that needs a name nobody defines, the commonest way docs drift from
the code, fails here. Running them is left to the reviews: several train models for
minutes. A block preceded by ``<!-- not run: why -->`` (an interface sketch, a two-column
comparison) is skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(<!-- not run[^>]*-->\s*\n)?([ \t]*)```python\n(.*?)\n[ \t]*```", re.S)


def python_blocks(text: str) -> list[str]:
    """The runnable ```python blocks of a Markdown text, dedented, in order."""
    return [
        textwrap.dedent(body) for skip, _, body in _BLOCK.findall(text) if not skip
    ]  # fmt: skip


def test_blocks_are_found_and_markers_skip() -> None:
    text = "a\n```python\nx = 1\n```\n<!-- not run: sketch -->\n```python\nest.fit()\n```\n"
    text += "- item\n\n  ```python\n  y = x\n  ```\n"
    assert python_blocks(text) == ["x = 1", "y = x"]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (dev extra)")
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_snippets_parse_and_define_their_names(page: Path, tmp_path: Path) -> None:
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{page.name} has no Python blocks")
    program = tmp_path / f"{page.stem}_snippets.py"
    program.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    result = subprocess.run(
        ["ruff", "check", "--isolated", "--select", "E9,F821", "--output-format", "concise",
         str(program)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"{page.name}:\n{result.stdout}{result.stderr}"
