"""The README's table of folders matches the tree: every module of a listed folder is named in
its row, and every folder the table lists exists."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE_ROW = re.compile(r"^\| (`[^|]+`) \| (.+) \|$", re.MULTILINE)


def _rows() -> dict[str, str]:
    """Each folder named in the first column ("`bnnlab/core/`") → its row's text."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The library and the CLI", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for names, what in TABLE_ROW.findall(section):
        for name in re.findall(r"`([^`]+/)`", names):
            rows[name] = what
    return rows


ROWS = _rows()


def test_the_table_lists_the_layers():
    for folder in ("bnnlab/core/", "bnnlab/methods/", "bnnlab/data/", "bnnlab/training/",
                   "bnnlab/live/", "bnnlab/lessons/", "bnnlab/figures/", "bnnlab/bench/",
                   "ui/", "app_pages/", "tools/loadtest/", "tests/"):
        assert folder in ROWS, folder


@pytest.mark.parametrize("folder", [f for f in ROWS if f.startswith(("bnnlab/", "ui/"))])
def test_every_module_of_a_folder_is_named_in_its_row(folder):
    path = ROOT / folder
    assert path.is_dir(), f"the README lists {folder}, which does not exist"
    modules = {p.stem for p in path.iterdir()
               if p.suffix in (".py", ".js") and not p.stem.startswith("__")}
    modules |= {p.name for p in path.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(m for m in modules if f"`{m}`" not in ROWS[folder]
                     and f"`{m}/`" not in ROWS[folder])
    assert not missing, f"{folder} row of the README does not name {missing}"
