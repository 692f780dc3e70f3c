"""The wheel carries everything the CLI needs at run time (suites, sample data, templates), and the
installed console script runs the main job from any folder."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(ROOT)], check=True, capture_output=True)
    wheel = next(wheel_dir.glob("crome_audit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("crome_audit/_suites/default.yaml", "crome_audit/assets/sample_pairs.jsonl",
                   "crome_audit/benchmarks/manifests/rewardbench.json"):
        assert needed in names, needed
    assert any(n.startswith("crome_audit/report/templates/") for n in names)
    # install into a fresh venv that sees the already-installed dependencies, run from elsewhere
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True)
    env = {**os.environ, "CROME_AUDIT_CACHE": str(tmp_path / "c.sqlite"), "PYTHONPATH": ""}
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import crome_audit; print(crome_audit.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert str(venv) in where  # the installed copy, not the source tree
    proc = subprocess.run([str(venv / "bin" / "crome-audit"), "run", "--rm", "length", "--suite", "quick",
                           "--quiet", "--out", "out"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (work / "out" / "results.json").is_file() and (work / "out" / "report.html").is_file()
