"""Output formats of the CI gate: console lines, JUnit XML, GitHub Actions annotations, a Markdown summary.

    from crome_audit.gate import evaluate
    from crome_audit.gate_output import junit_xml, github_annotations, markdown_summary
    xml = junit_xml(evaluate(results, config, baseline))

Plain data in, text out (see crome_audit/gate.py for the rules; docs/ci-gate.md for the formats).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from .gate import Outcome, fmt_ci
from .safe_text import markdown_line, one_line, xml_text

MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def console_lines(outcome: Outcome) -> list[str]:
    lines = [f"{MARK[c.status]}  {one_line(c.message)}" for c in outcome.checks]
    n_fail, n_warn = len(outcome.failed), len(outcome.warnings)
    verdict = "FAILED" if n_fail else "PASSED"
    lines.append(f"gate {verdict}: {len(outcome.checks)} checks, {n_fail} failed, {n_warn} warnings")
    return lines


def junit_xml(outcome: Outcome, suite: str = "crome-audit gate") -> str:
    """One <testcase> per gated metric; failures as <failure>, warnings noted in <system-out>."""
    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(outcome.checks)),
                       failures=str(len(outcome.failed)), errors="0", skipped="0")
    for c in outcome.checks:
        name, message = xml_text(c.name), xml_text(c.message)
        tc = ET.SubElement(ts, "testcase", classname=f"crome_audit.gate.{xml_text(c.group)}", name=name)
        if c.status == "fail":
            f = ET.SubElement(tc, "failure", message=message, type="regression")
            f.text = message
        elif c.status == "warn":
            ET.SubElement(tc, "system-out").text = "WARNING: " + message
    root.set("tests", ts.get("tests"))
    root.set("failures", ts.get("failures"))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _gh_escape(text: str, prop: bool = False) -> str:
    text = one_line(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(outcome: Outcome, file: str | None = None) -> list[str]:
    """``::error``/``::warning`` workflow commands (GitHub Actions shows them on the run and the PR)."""
    out = []
    for c in outcome.checks:
        if c.status == "pass":
            continue
        level = "error" if c.status == "fail" else "warning"
        props = f"title={_gh_escape('crome-audit gate: ' + c.name, prop=True)}"
        if file:
            props = f"file={_gh_escape(file, prop=True)}," + props
        out.append(f"::{level} {props}::{_gh_escape(c.message)}")
    return out


def _md(text) -> str:
    return markdown_line(text)


def markdown_summary(outcome: Outcome, run_name: str = "", baseline_name: str = "") -> str:
    icon = {"pass": "✅", "warn": "⚠️", "fail": "❌"}
    n_fail = len(outcome.failed)
    head = "❌ **crome-audit gate failed**" if n_fail else "✅ **crome-audit gate passed**"
    lines = [f"### {head}", ""]
    what = f"Run `{_md(run_name)}`" if run_name else "Run"
    if baseline_name:
        what += f" vs baseline `{_md(baseline_name)}`"
    lines += [f"{what}: {len(outcome.checks)} checks, {n_fail} failed, {len(outcome.warnings)} warnings. "
              "A regression counts only outside the confidence intervals.", "",
              "| | check | value [95% CI] | baseline [95% CI] | limit | detail |", "|---|---|---|---|---|---|"]
    order = {"fail": 0, "warn": 1, "pass": 2}
    for c in sorted(outcome.checks, key=lambda c: order[c.status]):
        val = f"{c.value:.3f}{fmt_ci(c.ci)}" if c.value is not None else "—"
        base = f"{c.baseline:.3f}{fmt_ci(c.baseline_ci)}" if c.baseline is not None else "—"
        lim = f"{c.limit:g}" if c.limit is not None else "—"
        lines.append(f"| {icon[c.status]} | {_md(c.name)} | {val} | {base} | {lim} | {_md(c.message)} |")
    return "\n".join(lines) + "\n"
