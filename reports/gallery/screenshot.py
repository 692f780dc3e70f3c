"""Screenshots of a report for the gallery (headless Chromium via selenium; see tests/report_browser.py).

    python reports/gallery/screenshot.py REPORT.html OUT_DIR
Writes OUT_DIR/gallery-overview.png (verdict + causal-vs-spurious) and OUT_DIR/gallery-sensitivity.png and
OUT_DIR/gallery-examples.png.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.report_browser import chromium_session, open_report  # noqa: E402


def main(report: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with chromium_session(width=1280, height=1250) as d:
        info = open_report(d, report)
        assert not info["console_errors"], info["console_errors"]
        assert info["charts_rendered"] == info["charts_expected"]
        d.save_screenshot(str(out / "gallery-overview.png"))
        for section, name in (("sensitivity", "gallery-sensitivity.png"), ("examples", "gallery-examples.png")):
            d.execute_script(f"document.getElementById('{section}').scrollIntoView({{behavior: 'instant'}});"
                             "window.scrollBy(0, -50)")
            time.sleep(0.5)
            d.save_screenshot(str(out / name))
    for p in sorted(out.glob("gallery-*.png")):
        print(f"{p} ({p.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
