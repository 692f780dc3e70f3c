"""Names from a results file (probe, RM, benchmark names) made safe for the one-line outputs they land in.

    one_line("a\\n::error::x")   -> 'a\\\\n::error::x'   console lines, GitHub annotations: no line can be forged
    xml_text("bell\\x07")        -> 'bell\\\\x07'         JUnit XML: characters XML 1.0 cannot hold, escaped
    markdown_line("a\\nb | c")     -> 'a\\\\nb \\\\| c'       the gate's step summary: one row per check
    markdown_cell("<img src=x>") -> '&lt;img src=x&gt;' Markdown tables: no HTML, no '|' breaking a row

Why: a results.json is input like any other. A probe named "x\\n::error::..." would print a GitHub workflow
command on the console of a CI job; NUL or BEL makes a JUnit file no XML parser reads; HTML in a name goes
verbatim into a Markdown file that GitHub renders.
"""

from __future__ import annotations

import html
import re

# C0 controls but tab, DEL, C1 controls, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u2028\\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
_XML_INVALID = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ud800-\\udfff\\ufffe\\uffff]")


def _escape(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def one_line(text) -> str:
    """``text`` with every control character (CR and LF included) written as an escape."""
    return _CONTROL.sub(_escape, str(text))


def xml_text(text) -> str:
    """``text`` without the characters XML 1.0 cannot hold (NUL, BEL, other C0 controls but tab/LF/CR, lone
    surrogates, U+FFFE/U+FFFF), each written as an escape; the XML writer escapes <, > and & itself."""
    return _XML_INVALID.sub(_escape, str(text))


def markdown_line(text) -> str:
    """One line, '|' escaped (the gate's GitHub step summary: GitHub sanitises its HTML itself)."""
    return one_line(text).replace("|", "\\|")


def markdown_cell(text) -> str:
    """One line, HTML-escaped, '|' escaped: safe in a Markdown table cell."""
    return html.escape(one_line(text), quote=False).replace("|", "\\|")
