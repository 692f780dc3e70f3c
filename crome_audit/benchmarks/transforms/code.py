"""reWordBench code transformations (RewardBench hep-* subsets, i.e. HumanEvalPack in six languages):
code minification, comment insertion, appending unrelated code. They rewrite both responses (the code);
the programs keep their behaviour, so the correct solution should still win.

    from crome_audit.benchmarks.transforms.code import minify
    minify("    x = 1  # one\\n    return x\\n", "python")   # ' x=1\\n return x'

- Python is minified through ``tokenize``: comments and blank lines go, indentation becomes one space per
  level, spaces are kept only between two name/number tokens. Function bodies (HumanEvalPack responses are
  bodies) are parsed inside a wrapper ``def``. Code that does not parse is not transformed (pair skipped).
- C++/Java/JavaScript/Go/Rust: a small scanner keeps string/char literals byte-exact (incl. Go/JS backtick
  strings, Rust raw strings and lifetimes, JS regex literals), drops ``//`` and ``/* */`` comments, removes
  indentation and blank lines and drops spaces except between two word characters or two operator
  characters. Newlines are kept (Go and JavaScript insert semicolons at line ends; C++ has preprocessor lines).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from . import CODE_SUBSETS, Transform, register

LANGS = {"hep-python": "python", "hep-cpp": "cpp", "hep-java": "java", "hep-js": "js", "hep-go": "go",
         "hep-rust": "rust"}
WRAP = "def _crome_wrap_():\n"
OPS = set("+-*/%<>=!&|^~:.?#")
RUST_CHAR = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
RUST_RAW = re.compile(r'r(#*)"')
COMMENTS = (
    "Solution below.",
    "Implementation of the requested function.",
    "Code starts here.",
    "Function body.",
    "See the problem statement above.",
)
UNRELATED = {
    "python": ("def _unrelated_helper(values):\n    total = 0\n    for v in values:\n        total += v\n"
               "    return total\n",
               "class _UnrelatedCounter:\n    def __init__(self):\n        self.count = 0\n\n"
               "    def bump(self):\n        self.count += 1\n        return self.count\n"),
    "cpp": ("int unrelated_helper(int a, int b) {\n    return a * b + 1;\n}\n",
            "static bool unrelated_is_even(long n) {\n    return n % 2 == 0;\n}\n"),
    "java": ("class UnrelatedHelper {\n    static int twice(int x) {\n        return 2 * x;\n    }\n}\n",
             "class UnrelatedCounter {\n    private int count = 0;\n    int bump() {\n        return ++count;\n"
             "    }\n}\n"),
    "js": ("function unrelatedHelper(a, b) {\n  return a * b + 1;\n}\n",
           "const unrelatedIsEven = (n) => n % 2 === 0;\n"),
    "go": ("func unrelatedHelper(a int, b int) int {\n    return a*b + 1\n}\n",
           "func unrelatedIsEven(n int) bool {\n    return n%2 == 0\n}\n"),
    "rust": ("fn unrelated_helper(a: i64, b: i64) -> i64 {\n    a * b + 1\n}\n",
             "fn unrelated_is_even(n: i64) -> bool {\n    n % 2 == 0\n}\n"),
}


def language(subset: str | None) -> str | None:
    return LANGS.get(subset or "")


# ----------------------------------------------------------------------------- python


def python_source(code: str) -> tuple[str, bool] | None:
    """(parseable source, wrapped?) for a module or a function body; None when neither parses."""
    for src, wrapped in ((code, False), (WRAP + code, True)):
        try:
            ast.parse(src)
            return src, wrapped
        except (SyntaxError, ValueError):
            continue
    return None


def minify_python(code: str) -> str | None:
    found = python_source(code)
    if found is None:
        return None
    src, wrapped = found
    offsets = [0]
    for line in src.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    fstart, fend = getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -1)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
    lines, cur, depth, line_depth, fdepth, fpos = [], [], 0, 0, 0, 0
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if fdepth:  # inside an f-string (Python 3.12+ tokenizes them): copy its source verbatim
            fdepth += (tok.type == fstart) - (tok.type == fend)
            if fdepth == 0:
                text = src[fpos : offsets[tok.end[0] - 1] + tok.end[1]]
                _emit(cur, text)
            continue
        if tok.type == fstart:
            if not cur:
                line_depth = depth
            fdepth, fpos = 1, offsets[tok.start[0] - 1] + tok.start[1]
            continue
        if tok.type in skip:
            continue
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type == tokenize.NEWLINE:
            if cur:
                lines.append(" " * line_depth + "".join(cur))
            cur = []
        else:
            if not cur:
                line_depth = depth
            _emit(cur, tok.string)
    if cur:
        lines.append(" " * line_depth + "".join(cur))
    if wrapped:
        lines = lines[1:]
    return "\n".join(lines)


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _emit(cur: list[str], text: str) -> None:
    if cur and _word(cur[-1][-1]) and _word(text[0]):
        cur.append(" ")
    cur.append(text)


# ----------------------------------------------------------------------------- C-like languages


def scan(code: str, lang: str) -> list[tuple[str, str]]:
    """Split C-like code into ("code"|"str"|"comment", text) segments."""
    segs: list[tuple[str, str]] = []
    buf: list[str] = []
    i, n = 0, len(code)

    def flush():
        if buf:
            segs.append(("code", "".join(buf)))
            buf.clear()

    def last_sig() -> str:
        for kind, text in reversed(segs + [("code", "".join(buf))]):
            if kind == "comment":
                continue
            stripped = text.rstrip()
            if stripped:
                return stripped[-1]
        return ""

    while i < n:
        ch = code[i]
        two = code[i : i + 2]
        if two == "//":
            j = code.find("\n", i)
            j = n if j < 0 else j
            flush(), segs.append(("comment", code[i:j]))
            i = j
        elif two == "/*":
            j = code.find("*/", i + 2)
            j = n if j < 0 else j + 2
            flush(), segs.append(("comment", code[i:j]))
            i = j
        elif lang == "rust" and (m := RUST_RAW.match(code, i)) and (i == 0 or not _word(code[i - 1])):
            end = code.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            flush(), segs.append(("str", code[i:j]))
            i = j
        elif ch == '"' or (ch == "`" and lang in ("go", "js")) or (ch == "'" and lang != "rust"):
            j = i + 1
            while j < n and code[j] != ch:
                j += 2 if (code[j] == "\\" and ch != "`") else 1
            j = min(j + 1, n)
            flush(), segs.append(("str", code[i:j]))
            i = j
        elif ch == "'" and lang == "rust" and (m := RUST_CHAR.match(code, i)):
            flush(), segs.append(("str", m.group()))
            i = m.end()
        elif ch == "/" and lang == "js" and last_sig() in ("", *"(,=:[!&|?{};+-*%<>~^"):
            j, in_class = i + 1, False
            while j < n and code[j] != "\n" and (in_class or code[j] != "/"):
                if code[j] == "\\":
                    j += 1
                elif code[j] in "[]":
                    in_class = code[j] == "["
                j += 1
            if j < n and code[j] == "/":
                flush(), segs.append(("str", code[i : j + 1]))
                i = j + 1
            else:
                buf.append(ch)
                i += 1
        else:
            buf.append(ch)
            i += 1
    flush()
    return segs


def _keep_space(a: str, b: str) -> bool:
    word_a, word_b = _word(a) or a in "\"'`", _word(b) or b in "\"'`"
    return (word_a and word_b) or (a in OPS and b in OPS)


def minify_clike(code: str, lang: str) -> str:
    out: list[str] = []  # emitted chunks; whitespace decided lazily
    pending = ""         # whitespace seen since the last emitted character ("" / " " / "\n")
    for kind, text in scan(code, lang):
        if kind == "comment":  # a block comment spanning lines counts as a newline (Go, JS)
            pending = "\n" if ("\n" in text or pending == "\n") else " "
            continue
        chunks = [text] if kind == "str" else re.split(r"(\s+)", text)
        for chunk in chunks:
            if not chunk:
                continue
            if kind == "code" and chunk.isspace():
                pending = "\n" if ("\n" in chunk or pending == "\n") else (pending or " ")
                continue
            if out and pending:
                prev = out[-1][-1]
                if pending == "\n" and prev != "\n":
                    out.append("\n")
                elif pending == " " and _keep_space(prev, chunk[0]):
                    out.append(" ")
            pending = ""
            out.append(chunk)
    return "".join(out)


def minify(code: str, lang: str) -> str | None:
    return minify_python(code) if lang == "python" else minify_clike(code, lang)


# ----------------------------------------------------------------------------- transforms


def _minify(text, rng, ctx):
    lang = language(ctx["subset"])
    return minify(text, lang) if lang else None


def _comment(text, rng, ctx):
    lang = language(ctx["subset"])
    if lang is None or (lang == "python" and python_source(text) is None):
        return None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    mark = "#" if lang == "python" else "//"
    lead = text[: len(text) - len(text.lstrip("\n"))]
    return f"{lead}{indent}{mark} {ctx['shared']['comment']}\n{text[len(lead):]}"


def _append_code(text, rng, ctx):
    lang = language(ctx["subset"])
    if lang is None or (lang == "python" and python_source(text) is None):
        return None
    return text.rstrip("\n") + "\n\n\n" + ctx["shared"][lang]


_CODE = CODE_SUBSETS
register(Transform("code_minify", "Minification", "domain", "meaning", ("responses",), _minify,
                   "minify the code of both responses (comments, blank lines, indentation, optional spaces "
                   "removed; behaviour unchanged)", subsets=_CODE, code=True))
register(Transform("code_comment", "Add Comment", "domain", "meaning", ("responses",), _comment,
                   "insert one neutral comment line (the same in both responses) at the top of the code",
                   subsets=_CODE, code=True, shared=lambda rng: {"comment": rng.choice(COMMENTS)}))
register(Transform("code_append", "Append Other Code", "domain", "ranking", ("responses",), _append_code,
                   "append the same unrelated, valid function to both responses", subsets=_CODE, code=True,
                   shared=lambda rng: {lang: rng.choice(pool) for lang, pool in UNRELATED.items()}))
