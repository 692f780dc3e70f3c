"""Names from a results file (probe, RM, benchmark names) made safe for the one-line outputs they land in.

    one_line("a\\n::error::x")   -> 'a\\\\n::error::x'   console lines, GitHub annotations: no line can be forged
    xml_text("bell\\x07")        -> 'bell\\\\x07'         JUnit XML: characters XML 1.0 cannot hold, escaped
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


def _escape(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def one_line(text) -> str:
    """``text`` with every control character (CR and LF included) written as an escape."""
    return _CONTROL.sub(_escape, str(text))


def xml_text(text) -> str:
    """One line, with no character XML 1.0 forbids (the XML writer escapes <, > and & itself)."""
    return re.sub("[\\ud800-\\udfff\\ufffe\\uffff]", "\ufffd", one_line(text))


def markdown_cell(text) -> str:
    """One line, HTML-escaped, '|' escaped: safe in a Markdown table cell."""
    return html.escape(one_line(text), quote=False).replace("|", "\\|")
