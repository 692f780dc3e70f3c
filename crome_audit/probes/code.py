"""Where the code is in a response: detection by structure (fences, a Python parse, a C-family lexer).

    from crome_audit.probes.code import code_spans, prose_spans, code_blocks, map_prose
    code_spans("Use `x`:\\n```py\\nx = 1\\n```")   # [(4, 7), (9, 24)]: inline code, then the fenced block
    map_prose(text, str.upper)                     # upper-cases the prose, leaves every code byte alone

Spurious probes edit only ``prose_spans`` (or return ``None`` when a response is all code); ``code_bug``
edits only ``code_blocks``. The rules, in order (documented in docs/probes.md):

1. Fenced blocks: a line opening with ``` or ~~~ (up to 3 spaces of indent) up to the closing fence of the
   same character and at least the same length, or to the end of the text if never closed. Its language is
   the info string where that names one (```cpp is C-like, ```bash is neither), else rule 3 on its content.
2. Inline code: a backtick run up to the next run of the same length on the same paragraph.
3. Unfenced code, tried on each stretch of text outside fences, first whole, then as runs of code-like lines:
   - Python: the stretch parses with ``ast`` as a module, or as a function body (``"def _f():\\n" + text``,
     the shape of HumanEval-style bodies), and holds at least one statement that is not a bare name or
     constant (so "Yes" or "42" is prose, ``return x % 1.0`` is code);
   - C family (C/C++/Java/JS/Go/Rust bodies): a structure rule on the text with strings and comments masked
     by a small lexer (``mask_c_like``): at least two of ``{ } ;``, braces balanced within 2 (a bare
     function body ends with one unmatched ``}``), no LaTeX (``$``, ``\\frac``), and no prose line (four or
     more words in a row with no code punctuation). We use a structure rule and not pygments because
     pygments is not a declared dependency and its lexers accept prose as well as code.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
import warnings
from dataclasses import dataclass

BODY_PREFIX = "def _f():\n"
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})([^\n]*)$")
_INLINE = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n\s*\n).)+?)(?<!`)\1(?!`)", re.S)
_C_LEX = re.compile(
    r"//[^\n]*|/\*[\s\S]*?(?:\*/|$)|^[ \t]*#[^\n]*|r(#*)\"[\s\S]*?\"\1|\"(?:\\.|[^\"\\\n])*\"|`[^`]*`"
    r"|'(?:\\.|[^'\\\n])*'", re.M)
_LATEX = re.compile(r"\$|\\[A-Za-z]{2,}")
_PROSE_RUN = re.compile(r"(?:\b[A-Za-z][a-z']*[,.!?]? ){3,}[A-Za-z][a-z']*")
_CODE_PUNCT = re.compile(r"[{}();=<>\[\]]")
_KEYWORD_LINE = re.compile(
    r"^\s*(?:def|class|return|import|from\s+[\w.]+\s+import|for|while|if|elif|else|try|except|finally|with"
    r"|fn|let|var|const|func|package|public|private|protected|static|int|void|bool|char|auto|string"
    r"|std::|#include|yield|raise|assert|break|continue|pass|lambda|async|await|match|impl|use|struct)\b")
_ASSIGN_LINE = re.compile(r"^\s*[A-Za-z_][\w.\[\]]*\s*(?:[-+*/%|&^]?=|:=)\s*\S")
_CODE_END = re.compile(r"[{};)\],]\s*$")
_CALL = re.compile(r"\w\(")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+\S")


@dataclass(frozen=True)
class CodeBlock:
    """One code span: ``start``/``end`` cover it in the text; ``lang`` is python, c_like, fenced (a fenced
    block in neither) or inline; ``inner`` is the code itself (a fenced block without its fence lines)."""

    start: int
    end: int
    lang: str
    inner: tuple[int, int]


def python_mode(text: str) -> tuple[str, ast.AST] | None:
    """("module" | "body", tree) if ``text`` is Python code by rule 3, else None."""
    if not text.strip():
        return None
    for mode, src in (("module", text), ("body", BODY_PREFIX + text)):
        try:
            with warnings.catch_warnings():  # "invalid escape sequence" in prose that happens to parse
                warnings.simplefilter("ignore")
                tree = ast.parse(src)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        stmts = tree.body[0].body if mode == "body" else tree.body
        if any(_substantial(s) for s in stmts):
            return mode, tree
    return None


def _substantial(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Expr):
        return not isinstance(stmt.value, (ast.Name, ast.Constant, ast.Tuple))
    if isinstance(stmt, ast.AnnAssign):  # "Answer: 5" parses as an annotation; real code assigns a value
        return stmt.value is not None
    return True


def mask_c_like(text: str) -> str:
    """``text`` with strings, char literals, comments and preprocessor lines blanked (same length, newlines
    kept), so operators and braces are only looked for in code."""
    return _C_LEX.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def is_c_like(text: str) -> bool:
    """Rule 3, C family: braces/semicolons structure, no LaTeX, no prose line (strings and comments masked)."""
    masked = mask_c_like(text)
    if _LATEX.search(masked):
        return False
    opens, closes, semis = masked.count("{"), masked.count("}"), masked.count(";")
    bare_body_end = re.search(r"\n[ \t]*\}\s*$", masked)  # "    return x\n}": a one-line body
    if (opens + closes + semis < 2 and not bare_body_end) or abs(opens - closes) > 2:
        return False
    return not any(_prose_line(line) for line in masked.split("\n"))


def _prose_line(line: str) -> bool:
    """Four or more words in a row and no code punctuation on the line: a sentence, not a statement."""
    return bool(_PROSE_RUN.search(line)) and not _CODE_PUNCT.search(line)


def _code_like_line(line: str) -> bool:
    if not line.strip() or _LATEX.search(line) or _LIST_ITEM.match(line):
        return False  # markdown list items ("- 2-APA (x)") parse as Python but are prose
    masked = mask_c_like(line)
    if _PROSE_RUN.search(masked) and re.search(r"[.!?]\s*$|[.!?] [A-Z]", masked.rstrip()):
        return False  # a sentence, even with parentheses
    return bool(_KEYWORD_LINE.match(line) or _ASSIGN_LINE.match(line) or _CODE_END.search(masked)
                or re.match(r"^\s*[}\])]", masked) or re.match(r"^\s*@\w", line))


def _unfenced(text: str, lo: int, hi: int) -> list[CodeBlock]:
    """Rule 3 on text[lo:hi]: the whole stretch, else runs of code-like lines."""
    segment = text[lo:hi]
    stripped = segment.strip()
    if not stripped:
        return []
    s = lo + segment.index(stripped[0])
    nl = text.rfind("\n", lo, s)  # a body's first line keeps its indentation: start at that line
    s = nl + 1 if nl >= 0 else lo
    e = lo + len(segment.rstrip())
    whole = _classify(text[s:e])
    if whole:
        return [CodeBlock(s, e, whole, (s, e))]
    blocks = []
    pos = lo
    lines = segment.split("\n")
    spans = []
    for line in lines:
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    i = 0
    while i < len(spans):
        a, b = spans[i]
        if not _code_like_line(text[a:b]):
            i += 1
            continue
        j, last = i, i
        while j + 1 < len(spans):
            nxt = text[spans[j + 1][0] : spans[j + 1][1]]
            if _code_like_line(nxt):
                j += 1
                last = j
            elif not nxt.strip() or (nxt[:1].isspace() and not _prose_line(nxt)):
                j += 1  # blank or indented continuation line inside a block
            else:
                break
        start, end = spans[i][0], spans[last][1]
        lang = _classify(text[start:end])
        if lang:
            blocks.append(CodeBlock(start, end, lang, (start, end)))
        i = last + 1
    return blocks


def _classify(chunk: str) -> str | None:
    single_line = "\n" not in chunk.strip()
    lines = [line for line in chunk.split("\n") if line.strip()]
    if sum(bool(_LIST_ITEM.match(line)) for line in lines) * 2 > len(lines):
        return None  # a markdown list ("- 2-APA (x)" parses as Python, but it is prose)
    if python_mode(chunk):
        # one line must look like a statement ("XQ@m3t4P" and '"a" or "b"' parse, but are not code)
        if single_line and not (_KEYWORD_LINE.match(chunk) or _ASSIGN_LINE.match(chunk) or _CALL.search(chunk)):
            return None
        return "python"
    return "c_like" if not single_line and is_c_like(chunk) else None


def code_blocks(text: str) -> list[CodeBlock]:
    """Every code span of ``text`` (fenced, unfenced and inline), sorted, non-overlapping."""
    return list(_code_blocks(text))


@functools.lru_cache(maxsize=8192)  # every probe asks about the same texts; parsing them once is enough
def _code_blocks(text: str) -> tuple[CodeBlock, ...]:
    blocks: list[CodeBlock] = []
    outside: list[tuple[int, int]] = []  # stretches outside fences
    pos, cursor, n = 0, 0, len(text)
    open_fence = None  # (start offset, fence char, fence length, content start)
    for line in text.split("\n"):
        end = pos + len(line)
        if open_fence is None:
            m = _FENCE_OPEN.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                outside.append((cursor, pos))
                open_fence = (pos, m.group(1)[0], len(m.group(1)), min(end + 1, n))
        else:
            f_start, ch, length, inner_start = open_fence
            if re.fullmatch(r" {0,3}" + re.escape(ch) + "{" + str(length) + r",}\s*", line):
                blocks.append(_fenced(text, f_start, end, (inner_start, max(inner_start, pos - 1))))
                open_fence, cursor = None, min(end + 1, n)
        pos = end + 1
    if open_fence is not None:
        f_start, _, _, inner_start = open_fence
        blocks.append(_fenced(text, f_start, n, (inner_start, n)))
    else:
        outside.append((cursor, n))
    for lo, hi in outside:
        unfenced = _unfenced(text, lo, hi)
        blocks += unfenced
        taken = [(b.start, b.end) for b in unfenced]
        for m in _INLINE.finditer(text, lo, hi):
            if not any(a < m.end() and m.start() < b for a, b in taken):
                blocks.append(CodeBlock(m.start(), m.end(), "inline", (m.start(2), m.end(2))))
    return tuple(sorted(blocks, key=lambda b: b.start))


_C_TAGS = {"c", "h", "cpp", "c++", "cc", "cxx", "hpp", "java", "javascript", "js", "jsx", "ts", "typescript", "tsx",
           "go", "golang", "rust", "rs", "cs", "csharp", "c#", "kotlin", "kt", "swift", "php", "scala", "dart"}
_PY_TAGS = {"python", "py", "python3", "py3", "ipython", "pycon"}


def _fenced(text: str, start: int, end: int, inner: tuple[int, int]) -> CodeBlock:
    """A fenced block's language: its info string when it names one (```bash is neither Python nor C-like
    whatever it looks like), else the structure rules."""
    body = text[inner[0] : inner[1]]
    tag = text[start : text.find("\n", start) if "\n" in text[start:end] else end].strip(" `~").split()
    tag = tag[0].lower() if tag else ""
    if tag and tag not in _C_TAGS | _PY_TAGS:
        return CodeBlock(start, end, "fenced", inner)
    if tag in _C_TAGS:
        return CodeBlock(start, end, "c_like", inner)
    lang = "python" if python_mode(body) else "c_like" if tag not in _PY_TAGS and is_c_like(body) else "fenced"
    return CodeBlock(start, end, lang, inner)


def code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every code span, fences included."""
    return [(b.start, b.end) for b in code_blocks(text)]


def prose_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the stretches between code spans (the complement of ``code_spans``)."""
    out, pos = [], 0
    for a, b in code_spans(text):
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < len(text):
        out.append((pos, len(text)))
    return out


def has_code_block(text: str) -> bool:
    """True if ``text`` holds code beyond inline `snippets` (a fenced block or unfenced code)."""
    return any(b.lang != "inline" for b in code_blocks(text))


def is_all_code(text: str) -> bool:
    """True if nothing but whitespace lies outside the code spans (and there is some code)."""
    spans = code_spans(text)
    return bool(spans) and not any(text[a:b].strip() for a, b in prose_spans(text))


def map_prose(text: str, fn) -> str:
    """Apply ``fn`` to each prose stretch; code spans come back byte for byte."""
    out, pos = [], 0
    for a, b in code_spans(text):
        if a > pos:
            out.append(fn(text[pos:a]))
        out.append(text[max(a, pos) : b])
        pos = max(pos, b)
    if pos < len(text):
        out.append(fn(text[pos:]))
    return "".join(out)


def python_tokens(code: str) -> tuple[str, list[tuple[int, int, int, str]]] | None:
    """(mode, [(token type, start, end, string)]) with offsets into ``code`` for Python code, else None."""
    found = python_mode(code)
    if found is None:
        return None
    mode = found[0]
    src = BODY_PREFIX + code if mode == "body" else code
    shift = len(BODY_PREFIX) if mode == "body" else 0
    line_starts = [0]
    for line in src.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    toks = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            start = line_starts[tok.start[0] - 1] + tok.start[1] - shift
            end = line_starts[tok.end[0] - 1] + tok.end[1] - shift
            if start >= 0:
                toks.append((tok.type, start, end, tok.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return mode, toks
