"""Reports in a real headless Chromium (selenium + Debian chromium/chromium-driver): no console errors, every
plotly chart rendered (.main-svg), the example browser pages/filters/highlights, and hostile text stays inert.

Screenshots go to the test's tmp folder, or to $CROME_AUDIT_SCREENSHOT_DIR when set (for inspection).
Skips with a clear message when Chromium, chromedriver or selenium is missing.
"""

import os
import shutil

import pytest

from crome_audit.report import render_report
from crome_audit.report.charts import short
from tests.report_browser import (
    browser_missing,
    chromium_session,
    layout_problems,
    open_report,
    set_viewport,
    wait_for,
)
from tests.report_fixtures import make_results, three_runs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MISSING = browser_missing()
if MISSING:
    pytestmark.append(pytest.mark.skip(reason=f"browser test skipped: {MISSING}"))

XSS = ["<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">',
       "</textarea><script>window.__xss=3</script>", "</script><script>window.__xss=4</script>"]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    with chromium_session(tmp_path_factory.mktemp("chromium")) as d:
        yield d


def _keep(path):
    out = os.environ.get("CROME_AUDIT_SCREENSHOT_DIR")
    if out:
        os.makedirs(out, exist_ok=True)
        shutil.copy(path, out)


def _assert_clean(info):
    assert info["console_errors"] == [], info["console_errors"]
    assert info["charts_expected"] == len(info["charts"]) > 0
    assert info["charts_rendered"] == info["charts_expected"]
    for chart_id, n_svg, rendered in info["charts"]:
        assert n_svg >= 1 and rendered == "1", chart_id


def test_three_run_report_renders(driver, tmp_path):
    report = render_report(three_runs(tmp_path), tmp_path / "three.html")
    shot = tmp_path / "three.png"
    info = open_report(driver, report, screenshot=shot)
    _assert_clean(info)
    assert {c[0] for c in info["charts"]} == {"fig-scatter", "fig-bias", "fig-instability", "fig-detection",
                                             "fig-bench-0", "fig-bench-1", "fig-bench-2", "fig-bench-3"}
    # bars for all three RMs with error bars; patterns tell the RMs apart without colour
    n_bars = driver.execute_script("return document.querySelectorAll('#fig-instability .trace.bars').length")
    assert n_bars == 3
    assert driver.execute_script("return document.querySelectorAll('#fig-detection pattern').length") > 0
    legend = driver.execute_script("return document.querySelector('#fig-detection g.legend').textContent")
    assert "length reference" in legend and "noise reference" in legend and "chance" in legend
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    _keep(shot)


@pytest.mark.parametrize("width", [420, 1400])
def test_layout_is_readable_at_phone_and_desktop_width(driver, tmp_path, width):
    """At 420 px and 1,400 px: no sideways page scroll, charts inside their cards, no overlapping tick labels,
    the toolbar off the legend, and the index table with both references readable in the first screen."""
    report = render_report(three_runs(tmp_path), tmp_path / f"w{width}.html")
    set_viewport(driver, width, 1000)
    try:
        info = open_report(driver, report)
        _assert_clean(info)
        driver.execute_script("document.querySelectorAll('.modebar').forEach(m => m.style.opacity = 1)")
        assert driver.execute_script("return document.documentElement.clientWidth") == width
        assert layout_problems(driver) == []
        first = driver.execute_script(
            "return Array.from(document.querySelectorAll('table.indices tbody th')).filter(th => "
            "th.getBoundingClientRect().bottom < 1000).map(th => th.textContent.trim())")
        assert any(t.startswith("noise reference") for t in first), first  # on the first screen
        shot = tmp_path / f"w{width}.png"
        driver.save_screenshot(str(shot))
        _keep(shot)
    finally:
        set_viewport(driver, 1366, 900)


def test_layout_checks_catch_a_broken_layout(driver, tmp_path):
    """Negative control for layout_problems: crowd the ticks, move the legend under the toolbar, widen a chart."""
    report = render_report(three_runs(tmp_path), tmp_path / "broken.html")
    set_viewport(driver, 420, 900)
    try:
        _assert_clean(open_report(driver, report))
        driver.execute_script(
            "var el = document.getElementById('fig-bias');"
            "Plotly.relayout(el, {'xaxis.dtick': 0.02, 'xaxis.tickangle': 0, 'legend.yref': 'paper', 'legend.y': 1,"
            " 'legend.x': 0.95, 'legend.xanchor': 'right', 'legend.yanchor': 'bottom'});"
            "document.getElementById('fig-instability').style.width = '900px';"
            "document.querySelectorAll('.modebar').forEach(m => m.style.opacity = 1);")
        wait_for(driver, "return document.documentElement.scrollWidth > 420")
        problems = " | ".join(layout_problems(driver))
        for want in ("page scrolls sideways", "fig-bias: xtick labels overlap", "fig-bias: toolbar covers the legend",
                     "fig-instability: chart wider than its card"):
            assert want in problems, (want, problems)
    finally:
        set_viewport(driver, 1366, 900)


def test_single_run_report_renders(driver, tmp_path):
    report = render_report([make_results("solo", seed=3)], tmp_path / "solo.html")
    info = open_report(driver, report, screenshot=tmp_path / "solo.png")
    _assert_clean(info)
    rows = driver.execute_script("return Array.from(document.querySelectorAll('table.indices tbody th'))"
                                 ".map(th => th.textContent.trim())")
    assert [r.split(" (")[0] for r in rows] == ["solo", "length reference", "noise reference"]


def _click(driver, element_id):
    el = driver.find_element("id", element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", el)
    el.click()


def _cards(driver):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#ex-list article.ex')).map(a => a.textContent)")


def test_example_browser_pages_filters_and_highlights(driver, tmp_path):
    report = render_report(three_runs(tmp_path), tmp_path / "ex.html")
    _assert_clean(open_report(driver, report))
    status = driver.find_element("id", "ex-status")
    assert status.text.startswith("page 1 of ")
    first = _cards(driver)
    assert len(first) == 8
    _click(driver, "ex-next")
    assert status.text.startswith("page 2 of ") and _cards(driver) != first
    assert driver.execute_script("return document.querySelectorAll('#ex-list mark.ins').length") > 0
    # filter by text: every card shown contains it
    box = driver.find_element("id", "ex-q")
    box.send_keys("Everest")
    cards = _cards(driver)
    assert cards and all("Everest" in c for c in cards)
    assert status.text.startswith("page 1 of ")
    box.clear()
    driver.execute_script("document.getElementById('ex-q').dispatchEvent(new Event('input'))")
    # choose the emoji probe of the third RM: the perturbed text (with astral-plane emoji) is rebuilt exactly
    driver.execute_script("var s=document.getElementById('ex-run'); s.value='2'; s.dispatchEvent(new Event('change'));")
    names = driver.execute_script("return Array.from(document.getElementById('ex-probe').options).map(o => o.text)")
    idx = next(i for i, n in enumerate(names) if n.startswith("emoji ")) - 1
    driver.execute_script(f"var s=document.getElementById('ex-probe'); s.value='{idx}';"
                          "s.dispatchEvent(new Event('change'));")
    inserted = driver.execute_script(
        "return Array.from(document.querySelectorAll('#ex-list mark.ins')).map(m => m.textContent)")
    assert inserted and all(t == " 😊👍" for t in inserted)
    # unticking 'flipped only' shows the kept pairs too
    n_flipped = int(status.text.split("·")[1].split()[0])
    _click(driver, "ex-flipped")
    assert int(status.text.split("·")[1].split()[0]) > n_flipped


def test_hostile_text_is_displayed_not_executed(driver, tmp_path):
    res = make_results(XSS[1], seed=9, extra_examples={"length_filler": [
        {"id": XSS[3], "prompt": XSS[2], "side": "rejected", "original": "Safe text. " + XSS[0],
         "perturbed": XSS[1] + " Safe text. " + XSS[0] + " " + XSS[2], "reward_original": 0.1,
         "reward_perturbed": 0.9, "other_reward": 0.5, "flipped": True}]})
    res["config"]["note"] = XSS[0]
    res["probes"][0]["attribute"] = XSS[2]
    res["probes"][1]["name"] = XSS[0]  # a probe name lands in chart labels (plotly renders some HTML there)
    report = render_report([res], tmp_path / "xss.html", title=XSS[0])
    info = open_report(driver, report, screenshot=tmp_path / "xss.png")
    _assert_clean(info)
    driver.find_element("id", "ex-q").send_keys("Safe text")
    wait_for(driver, "return document.querySelectorAll('#ex-list article.ex').length === 1")
    driver.execute_script("document.querySelectorAll('#ex-list details').forEach(d => d.open = true)")
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    text = driver.execute_script("return document.body.innerText")
    for s in XSS:
        assert s in text, s  # shown literally, as text
    assert driver.title == XSS[0]
    text_of = "return document.getElementById(arguments[0]).textContent"
    assert XSS[0] in driver.execute_script(text_of, "fig-bias")  # a probe name, as literal text
    assert short(XSS[1]) in driver.execute_script(text_of, "fig-scatter")  # the RM name (legend), literal text
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert driver.execute_script("return document.querySelectorAll('textarea').length") == 0
    scripts = driver.execute_script("return Array.from(document.scripts).map(s => s.type + ' ' + s.src)")
    assert scripts == ["application/json ", "application/json ", " ", " "], scripts  # data, data, plotly, ours
    _keep(tmp_path / "xss.png")
