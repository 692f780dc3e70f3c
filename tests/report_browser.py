"""Drive a real headless Chromium (Debian ``chromium`` + ``chromium-driver``) with selenium, for report tests
and the report-size benchmark. No network: the driver binary is given explicitly (selenium-manager never runs).

    from tests.report_browser import chromium_session, browser_missing
    with chromium_session(tmp_dir) as driver:
        info = open_report(driver, "report.html", screenshot="shot.png")
        info["console_errors"], info["charts_expected"], info["charts_rendered"], info["seconds"]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

BROWSER_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
DRIVER_CANDIDATES = ("chromedriver", "/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1366,900", "--hide-scrollbars")


def _find(candidates) -> str | None:
    for c in candidates:
        p = c if os.path.isabs(c) else shutil.which(c)
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def browser_missing() -> str | None:
    """None when Chromium, chromedriver and selenium are all present, else why not (a skip message)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install selenium)"
    if _find(BROWSER_CANDIDATES) is None:
        return "headless Chromium not found (apt-get install -y chromium chromium-driver)"
    if _find(DRIVER_CANDIDATES) is None:
        return "chromedriver not found (apt-get install -y chromium-driver)"
    return None


@contextlib.contextmanager
def chromium_session(profile_root=None, width: int = 1366, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="crome-chromium-", dir=profile_root)
    opts = webdriver.ChromeOptions()
    opts.binary_location = _find(BROWSER_CANDIDATES)
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--window-size={width},{height}")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=_find(DRIVER_CANDIDATES)), options=opts)
    driver.set_page_load_timeout(120)
    set_viewport(driver, width, height)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver, width: int, height: int) -> None:
    """An exact CSS viewport (headless Chromium windows have a minimum width of ~500 px, so 420 px needs the
    DevTools device-metrics override; the page then lays out exactly as on a 420 px phone screen)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": int(width), "height": int(height), "deviceScaleFactor": 1, "mobile": False})
    driver._crome_viewport = (int(width), int(height))


def layout_problems(driver) -> list[str]:
    """What breaks a layout at this width: charts wider than their card, the page scrolling sideways, plotly
    tick labels that overlap each other, the chart toolbar over the legend. Empty when readable."""
    return driver.execute_script(r"""
      var out = [], vw = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth > vw + 1) out.push('page scrolls sideways: ' +
          document.documentElement.scrollWidth + ' > ' + vw);
      function box(e) { return e.getBoundingClientRect(); }
      function overlap(a, b) { return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 &&
                                      b.top < a.bottom - 1; }
      document.querySelectorAll('div.chart').forEach(function (d) {
        var card = d.closest('.card'), c = box(card), r = box(d);
        var svg = d.querySelector('.main-svg');
        if (r.right > c.right + 1 || (svg && box(svg).right > c.right + 1)) out.push(d.id + ': chart wider than its card');
        ['xtick', 'ytick'].forEach(function (cls) {
          var ticks = Array.from(d.querySelectorAll('g.' + cls + ' text')).map(box).filter(function (b) {
            return b.width > 0; });
          for (var i = 0; i < ticks.length; i++) for (var j = i + 1; j < ticks.length; j++)
            if (overlap(ticks[i], ticks[j])) { out.push(d.id + ': ' + cls + ' labels overlap'); return; }
        });
        var legend = d.querySelector('g.legend'), bar = d.querySelector('.modebar');
        if (legend && bar && overlap(box(legend), box(bar))) out.push(d.id + ': toolbar covers the legend');
        if (legend && box(legend).right > r.right + 1) out.push(d.id + ': legend outside the chart');
      });
      return out;""")


def wait_for(driver, script: str, timeout: float = 60.0, poll: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for: {script}")
        time.sleep(poll)


VISIBLE_DONE = ("return document.readyState === 'complete' && !!window.__cromeCharts && "
                "Array.from(document.querySelectorAll('div.chart')).every(d => "
                "d.getBoundingClientRect().top > window.innerHeight || d.getAttribute('data-rendered') === '1')")
ALL_DONE = "return window.__cromeCharts.rendered >= window.__cromeCharts.expected"


def open_report(driver, path, screenshot=None, full_page: bool = False) -> dict:
    """Load a report file; ``first_paint``: first contentful paint (text and tables readable);
    ``seconds``: until it is open (document complete, the charts in the first screen drawn; the others draw as
    they scroll into view); then force every chart and wait: ``all_seconds``."""
    url = Path(path).resolve().as_uri()
    driver.get_log("browser")  # drop earlier entries
    t0 = time.monotonic()
    driver.get(url)
    wait_for(driver, VISIBLE_DONE)
    seconds = time.monotonic() - t0
    driver.execute_script("window.__cromeRenderAll && window.__cromeRenderAll()")
    wait_for(driver, ALL_DONE)
    all_seconds = time.monotonic() - t0
    charts = driver.execute_script(
        "return Array.from(document.querySelectorAll('div.chart')).map(d => "
        "[d.id, d.querySelectorAll('.main-svg').length, d.getAttribute('data-rendered')])")
    logs = driver.get_log("browser")
    errors = [e for e in logs if e.get("level") == "SEVERE"]
    if screenshot:
        if full_page:
            h = driver.execute_script("return document.documentElement.scrollHeight")
            w = getattr(driver, "_crome_viewport", (1366, 900))[0]
            set_viewport(driver, w, min(int(h) + 40, 16000))
        driver.save_screenshot(str(screenshot))
    marks = driver.execute_script("return performance.getEntriesByType('mark').map(m => [m.name, m.startTime])")
    paint = driver.execute_script("var p = performance.getEntriesByName('first-contentful-paint');"
                                  "return p.length ? p[0].startTime / 1000 : null")
    return {"seconds": seconds, "all_seconds": all_seconds, "first_paint": paint, "charts": charts, "console": logs,
            "console_errors": errors, "marks": dict(marks),
            "charts_expected": driver.execute_script("return window.__cromeCharts.expected"),
            "charts_rendered": driver.execute_script("return window.__cromeCharts.rendered")}
