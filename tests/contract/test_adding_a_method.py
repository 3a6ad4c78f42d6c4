"""docs/ADDING_A_METHOD.md, followed literally: in a copy of the project, write the doc's
`bnnlab/methods/sgld.py` and apply its registry lines, then find SGLD and its own setting (the
burn-in) in the CLI, in a link, and in the playground and Compare pages (AppTest), without any
other edit."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ADDING_A_METHOD.md"

# Run in the copy: a link and both pages, through the same code the app serves.
PAGES_CHECK = r"""
import json
from streamlit.testing.v1 import AppTest
from bnnlab.training import links

out = {}
cfg, notices = links.from_query_params({"method": "sgld", "sgld_burnin": "30"})
out["link"] = [cfg.method, cfg.sgld_burnin, notices]
cfg, notices = links.from_query_params({"method": "sgld", "sgld_burnin": "99999"})
out["clamped"] = [cfg.sgld_burnin, notices]

at = AppTest.from_file("app_pages/ch4_playground.py", default_timeout=120)
at.query_params.update({"method": "sgld", "sgld_burnin": "40", "steps": "300",
                        "hidden": "8", "num_points": "64"})
at.run()
widget = at.number_input(key="pg_sgld_burnin")
out["playground"] = [len(at.exception), widget.label, widget.value,
                     at.radio(key="pg_method").value, at.query_params.get("sgld_burnin")]

at = AppTest.from_file("app_pages/compare.py", default_timeout=120)
at.run()
out["compare_methods"] = list(at.multiselect(key="cmp_methods").options)
widget = at.number_input(key="cmp_sgld_burnin")
out["compare_widget"] = [widget.label, widget.value]
at.session_state["cmp_methods"] = ["sgld"]
at.number_input(key="cmp_sgld_burnin").set_value(120).run()
settings = at.session_state["cmp_settings"]
out["compare"] = [len(at.exception), list(settings.methods),
                  settings.method_config("sgld").sgld_burnin,
                  settings.method_config("sgld").steps, settings.samples_after_warmup]
print(json.dumps(out))
"""


def _python_block(doc: str, after: str) -> str:
    """The first ```python block after the line that mentions `after`."""
    start = doc.index(after)
    return re.search(r"```python\n(.*?)```", doc[start:], re.S).group(1)


def _apply_diff(text: str, diff: str) -> str:
    """Apply a diff of whole lines: each run of `-` lines is replaced by the `+` lines after it."""
    removed: list[str] = []
    added: list[str] = []
    hunks: list[tuple[list[str], list[str]]] = []
    for line in diff.splitlines():
        if line.startswith("-"):
            if added:
                hunks.append((removed, added))
                removed, added = [], []
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
    hunks.append((removed, added))
    for old, new in hunks:
        old_text = "\n".join(old) + "\n"
        assert text.count(old_text) == 1, f"the doc's line is not in the registry: {old_text!r}"
        text = text.replace(old_text, "\n".join(new) + "\n")
    return text


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the app with SGLD added exactly as the doc says."""
    copy = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("bnnlab", "app_pages", "ui"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copy(ROOT / "app.py", copy / "app.py")
    doc = DOC.read_text()
    (copy / "bnnlab" / "methods" / "sgld.py").write_text(
        _python_block(doc, "`bnnlab/methods/sgld.py`, the one new file"))
    diff = re.search(r"```diff\n(.*?)```", doc, re.S).group(1)
    registry = copy / "bnnlab" / "registry.py"
    registry.write_text(_apply_diff(registry.read_text(), diff))
    return copy


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=project, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow  # 7–9 s: the fast tier stays under 2 minutes
def test_the_cli_trains_sgld_with_its_burn_in(project):
    """`--method sgld --sgld-burnin 20` trains and reports the burn-in; its flag is in the help,
    and a burn-in over its bound is refused with one line naming it."""
    done = _run(project, "-m", "bnnlab", "train", "--method", "sgld", "--sgld-burnin", "20",
                "--steps", "60", "--hidden", "8", "--num-points", "64", "--lr", "0.001",
                "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["method"] == "sgld" and report["steps"] == 60 and report["sgld_burnin"] == 20
    assert report["entropy_near"] >= 0 and report["trace_labels"][0] == "log posterior"
    assert "--sgld-burnin" in _run(project, "-m", "bnnlab", "train", "--help").stdout
    refused = _run(project, "-m", "bnnlab", "train", "--method", "sgld", "--sgld-burnin", "9999")
    assert refused.returncode == 2 and "sgld_burnin" in refused.stderr


@pytest.mark.slow  # 7–9 s: the fast tier stays under 2 minutes
def test_a_link_and_both_pages_offer_sgld_and_its_burn_in(project):
    """A link sets SGLD and its burn-in (clamped with a notice when out of bounds); the
    playground shows the burn-in's widget with the link's value and keeps it in its link; the
    Compare page lists SGLD, shows its burn-in, and runs burn-in + the draws asked for."""
    done = _run(project, "-c", PAGES_CHECK)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["link"] == ["sgld", 30, []]
    assert out["clamped"][0] == 5000 and "sgld_burnin" in out["clamped"][1][0]
    exception, label, value, method, in_link = out["playground"]
    assert exception == 0 and label == "SGLD burn-in steps" and value == 40
    assert method == "sgld" and in_link == "40"
    assert "SGLD" in out["compare_methods"]
    assert out["compare_widget"] == ["SGLD burn-in steps", 200]
    exception, methods, burnin, steps, samples = out["compare"]
    assert exception == 0 and methods == ["sgld"] and burnin == 120
    assert steps == 120 + samples
