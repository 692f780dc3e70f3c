"""The wheel carries everything the CLI needs at run time (suites, recipes and their data, sample data,
templates), and the installed console script runs the main job and a built-in recipe from any folder, whether
the tests run with the system interpreter or inside a virtual environment."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_test_venv(venv: Path, wheel: Path) -> Path:
    """A fresh venv with ``wheel`` installed that sees the dependencies the running interpreter sees (torch ...).

    ``venv --system-site-packages`` is not enough: when the tests themselves run inside a venv (the README's way),
    the "system" site of the new venv is the *base* interpreter's, which lacks everything installed in the outer
    venv. So the new venv gets a .pth file listing the running interpreter's site folders; .pth lines are appended
    after the venv's own site-packages, so the wheel installed there wins over any source or editable copy (and
    the outer folders' own .pth files, e.g. an editable crome_audit finder, are not processed)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # install before the outer folders are visible: else pip finds the outer (editable) crome-audit "installed"
    # (and without PYTHONPATH: a source tree on it, with its egg-info, also counts as "installed")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, env=env)
    sites = _site_dirs()
    own = next((venv / "lib").glob("python*/site-packages"))
    (own / "_outer_sites.pth").write_text("".join(f"{p}\n" for p in sites))
    return venv


def _site_dirs() -> list[str]:
    return [p for p in sys.path if p and Path(p).is_dir() and Path(p).name in ("site-packages", "dist-packages")]


def _wheel_build_env() -> dict:
    """The environment for ``pip wheel --no-build-isolation`` (offline). A venv's bundled setuptools (65.x) cannot
    build a wheel without the separate 'wheel' package, which a README-style venv does not have; so the site
    folder holding a setuptools that can (>= 70.1, or next to 'wheel') goes first on PYTHONPATH."""
    def capable(site: Path) -> bool:
        if (site / "wheel").is_dir():
            return True
        for info in site.glob("setuptools-*.dist-info"):
            parts = info.name[len("setuptools-"):].split(".")
            if parts[0].isdigit() and parts[1].isdigit() and (int(parts[0]), int(parts[1])) >= (70, 1):
                return True
        return False

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    good = [p for p in _site_dirs() if capable(Path(p))]
    if not good:
        pytest.skip("no setuptools that can build a wheel offline (pip install 'setuptools>=70.1' or wheel)")
    env["PYTHONPATH"] = good[0]
    return env


@pytest.mark.slow
def test_wheel_installs_and_runs(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(ROOT)], check=True, capture_output=True, env=_wheel_build_env())
    wheel = next(wheel_dir.glob("crome_audit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("crome_audit/_suites/default.yaml", "crome_audit/assets/sample_pairs.jsonl",
                   "crome_audit/benchmarks/manifests/rewardbench.json"):
        assert needed in names, needed
    assert any(n.startswith("crome_audit/report/templates/") for n in names)
    for needed in ("crome_audit/_recipes/tiny-crome.yaml", "crome_audit/_recipes/data/hh-rlhf-harmless-base-test-260.jsonl.gz"):
        assert needed in names, needed
    venv = make_test_venv(tmp_path / "venv", wheel)
    py = venv / "bin" / "python"
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
    # a built-in recipe by name, its data read from the installed package (not the working folder)
    proc = subprocess.run([str(venv / "bin" / "crome-audit"), "train", "--config", "tiny-bt", "--out", "tb",
                           "--until", "augment", "--set", "train.progress=false"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    split = json.loads((work / "tb" / ".cache" / "pipeline" / "split.json").read_text())
    assert str(venv) in split["path"] and split["n_train"] == 200 and split["n_heldout"] == 50
