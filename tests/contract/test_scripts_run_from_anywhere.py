"""The scripts the docs tell you to run (`python docs/digits_table.py`, `python
tools/loadtest/run_push_load.py`, …) import from any working directory without PYTHONPATH: a
moved module breaks them here, not in front of an instructor."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for folder in ("docs", "tools", "tools/loadtest")
                 for p in (ROOT / folder).glob("*.py")
                 if '__name__ == "__main__"' in p.read_text(encoding="utf-8"))

# Each script's top level runs (not its main) in one interpreter, with sys.path and the
# project's modules reset between scripts so that one script's path cannot help the next.
PROBE = """
import runpy, sys
clean_path = list(sys.path)
failed = []
for script in sys.argv[1:]:
    sys.path[:] = clean_path
    for name in [m for m in sys.modules
                 if m.split(".")[0] in ("bnnlab", "tests", "common", "protocol_client")]:
        del sys.modules[name]
    try:
        runpy.run_path(script, run_name="imported")
    except Exception as err:
        failed.append(f"{script}: {type(err).__name__}: {err}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_there_are_scripts_to_check():
    names = {p.name for p in SCRIPTS}
    assert {"digits_table.py", "run_push_load.py", "fair_share.py"} <= names


def test_every_script_imports_from_another_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", PROBE, *map(str, SCRIPTS)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]


def test_benchmark_entry_points_answer_help(tmp_path):
    """`--help` prints usage and runs nothing (it once started the chapters' benchmark)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    for module in ("bnnlab.bench", "bnnlab.bench.browser", "bnnlab.bench.chapters"):
        out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.startswith("usage:"), module + out.stderr
