"""Screenshots of a report for the gallery, at a desktop (1,400 px) and a phone (420 px) width, in headless
Chromium via selenium (see tests/report_browser.py). Fails when the page logs an error, a chart does not render,
or the layout breaks (sideways scroll, a chart outside its card, overlapping tick labels, toolbar over a legend).

    python reports/gallery/screenshot.py REPORT.html OUT_DIR [PREFIX]
Writes OUT_DIR/PREFIX-{1400,420}-{overview,sensitivity,examples}.png (PREFIX: gallery).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.report_browser import chromium_session, layout_problems, open_report  # noqa: E402

WIDTHS = {1400: 1000, 420: 900}  # width -> viewport height
SECTIONS = (("overview", None), ("sensitivity", "sensitivity"), ("examples", "examples"))


def main(report: str, out_dir: str, prefix: str = "gallery") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{prefix}-[0-9]*.png"):
        old.unlink()
    for width, height in WIDTHS.items():
        with chromium_session(width=width, height=height) as d:
            info = open_report(d, report)
            assert not info["console_errors"], info["console_errors"]
            assert info["charts_rendered"] == info["charts_expected"]
            problems = layout_problems(d)
            assert not problems, (width, problems)
            for name, section in SECTIONS:
                if section:
                    if not d.execute_script(f"return !!document.getElementById('{section}')"):
                        continue
                    d.execute_script(f"document.getElementById('{section}').scrollIntoView({{behavior: 'instant'}});"
                                     "window.scrollBy(0, -8)")
                    time.sleep(0.5)
                d.save_screenshot(str(out / f"{prefix}-{width}-{name}.png"))
    for p in sorted(out.glob(f"{prefix}-[0-9]*.png")):
        print(f"{p} ({p.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
