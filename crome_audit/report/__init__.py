"""Side-by-side HTML reports comparing reward-model runs (``results.json`` from ``run`` and ``bench``).

One self-contained file: plotly.js inlined once, no CDN, works offline; jinja2 templates with autoescape on;
every text from a results file is escaped. Reads results only: never imports torch, models or the engine.

    from crome_audit.results import read_results
    from crome_audit.report import render_report
    render_report([read_results("runs/base"), read_results("runs/crome")], "report.html")

CLI: ``crome-audit report RUN_DIR [RUN_DIR ...] -o report.html``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import OutputError

__all__ = ["render_report"]


def render_report(results: list[dict], out_path, title: str | None = None) -> Path:
    """Write the comparison report of ``results`` (dicts from ``read_results``) to ``out_path`` atomically."""
    if isinstance(results, dict):
        results = [results]
    results = list(results)
    if not results:
        raise ValueError("render_report needs at least one results dict")
    from .compare import align
    from .render import render_html

    html = render_html(align(results), title=title)
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8", errors="replace", newline="\n") as f:
            f.write(html)
        os.replace(tmp, out)
    except OSError as e:  # read-only folder, a name too long, a full disk
        raise OutputError(f"{out}: cannot write the report: {e.strerror or e}") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return out
