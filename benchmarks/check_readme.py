"""Run every README command block, in order, as written, in a fresh clone; fail on the first that does not work.

    python benchmarks/check_readme.py                 # clone this checkout's HEAD into a temp folder
    python benchmarks/check_readme.py --keep /tmp/rc  # keep the clone (and its reports/) for a look

Every ```bash block of README.md runs, except one right after a line ``<!-- readme-check: skip (why) -->``
(examples that need the user's own model, a GPU or the network). Each block runs with ``bash -e`` in the
clone's root, inside a virtual environment that sees this interpreter's packages (so the README's
``pip install`` lines install the clone without downloading torch again), with ``../shared`` linked next to
the clone when present. Prints each block, its exit code and time; exit 1 if any block fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = re.compile(r"<!--\s*readme-check:\s*skip\b")


def blocks(readme: str) -> list[tuple[int, str, bool]]:
    """(line number, code, skipped) for every ```bash block."""
    out, lines, i = [], readme.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            start, body = i + 1, []
            skipped = any(SKIP.search(lines[j]) for j in range(max(0, i - 2), i))
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            out.append((start, "\n".join(body), skipped))
        i += 1
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", default=None, help="clone here and keep it")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="readme-check-"))
    clone = work / "crome-audit"
    if clone.exists():
        shutil.rmtree(clone)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    shared = ROOT.parent / "shared"
    if shared.is_dir() and not (work / "shared").exists():
        (work / "shared").symlink_to(shared)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # the venv sees this interpreter's site-packages (torch etc.), like the packaging test does
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "_outer_site.pth").write_text("\n".join(outer) + "\n")
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    failed = 0
    for line, code, skipped in blocks((clone / "README.md").read_text(encoding="utf-8")):
        print(f"\n=== README.md:{line}{'  (skipped: marked readme-check: skip)' if skipped else ''}\n{code}", flush=True)
        if skipped:
            continue
        t0 = time.perf_counter()
        proc = subprocess.run(["bash", "-e", "-c", code], cwd=clone, env=env, capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
        print("\n".join(f"    {x}" for x in tail))
        print(f"--- exit {proc.returncode} after {time.perf_counter() - t0:.0f} s", flush=True)
        if proc.returncode != 0:
            failed += 1
            break
    print(f"\nREADME check: {'FAILED' if failed else 'all blocks passed'} (clone in {clone})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
