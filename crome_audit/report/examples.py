"""The example browser's payload: flipped pairs per run and probe, with a word-level diff, kept compact.

Texts are stored once in a string table (a prompt or an original response shared by several probes or runs
costs its bytes once). The perturbed text is not stored whole: it is a list of segments, each either
``[start, end]`` (copy these characters of the original) or a string (new text), so a probe that appends a
sentence costs only that sentence. ``changed`` lists the character ranges of the original that the probe
removed or replaced. The browser rebuilds both texts and highlights the difference, using text nodes only
(never innerHTML), so nothing in a response can run.

    from crome_audit.report.examples import build_examples
    payload = build_examples(cmp)     # JSON-able dict for <script type="application/json">

The diff is Myers' O((N+M)·D) algorithm with a work budget (``MAX_DIFF_STEPS`` per diff, counted in
``DiffWork``): a pair too different to diff within it is shown as one change with a note, so a report's
time grows linearly with its size whatever the texts hold (difflib's matcher is cubic on repetitive text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .compare import Comparison, num

TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)  # words, single punctuation marks, whitespace runs
ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
MAX_DIFF_STEPS = 200_000  # per diff (lines or words of one block): about 0.1 s of Python at worst
TOO_LONG_NOTE = "too different to diff within the report's budget: shown as one change"


@dataclass
class DiffWork:
    """Steps spent (diagonal visits + matched tokens) and how many diffs hit the budget; tests read it."""

    steps: int = 0
    capped: int = 0


class _OverBudget(Exception):
    pass


def myers_opcodes(a: list, b: list, budget: int = MAX_DIFF_STEPS, work: DiffWork | None = None) -> list[tuple]:
    """difflib-style opcodes ``(tag, i1, i2, j1, j2)`` of a shortest edit script from ``a`` to ``b``.
    Raises _OverBudget after ``budget`` steps (each diagonal visit and each matched token is one step)."""
    n, m = len(a), len(b)
    lim = n + m
    off = lim + 1
    v = [0] * (2 * lim + 3)
    trace: list[list[int]] = []  # V after round d, for diagonals -d..d (memory O(D^2), D <= sqrt(2 budget))
    steps = 0
    found = False
    for d in range(lim + 1):
        for k in range(-d, d + 1, 2):
            x = v[off + k + 1] if (k == -d or (k != d and v[off + k - 1] < v[off + k + 1])) else v[off + k - 1] + 1
            y = x - k
            start = x
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            steps += 1 + x - start
            v[off + k] = x
            if x >= n and y >= m:
                found = True
                break
        trace.append(v[off - d: off + d + 1])
        if found:
            break
        if steps > budget:
            if work is not None:
                work.steps += steps
            raise _OverBudget
    if work is not None:
        work.steps += steps
    # walk back from (n, m): per round one insert/delete plus the snake that followed it
    moves = []  # (tag, i, j) single-token edits and ("equal", i, j) steps, in reverse
    x, y = n, m
    for d in range(len(trace) - 1, 0, -1):
        prev = trace[d - 1]
        k = x - y

        def at(kk, prev=prev, d=d):
            return prev[kk + d - 1]

        down = k == -d or (k != d and at(k - 1) < at(k + 1))
        pk = k + 1 if down else k - 1
        px = at(pk)
        py = px - pk
        sx, sy = (px, py + 1) if down else (px + 1, py)
        while x > sx and y > sy:
            x -= 1
            y -= 1
            moves.append(("equal", x, y))
        moves.append(("insert", px, py) if down else ("delete", px, py))
        x, y = px, py
    while x > 0 and y > 0:
        x -= 1
        y -= 1
        moves.append(("equal", x, y))
    moves.reverse()
    ops: list[list] = []
    for tag, i, j in moves:
        di, dj = (1, 1) if tag == "equal" else ((0, 1) if tag == "insert" else (1, 0))
        kind = "equal" if tag == "equal" else "edit"
        if ops and ops[-1][0] == kind:
            ops[-1][2] += di
            ops[-1][4] += dj
        else:
            ops.append([kind, i, i + di, j, j + dj])
    out = []
    for kind, i1, i2, j1, j2 in ops:
        if kind == "edit":
            kind = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
        out.append((kind, i1, i2, j1, j2))
    return out


def _prompt_str(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        lines = []
        for m in prompt:
            if isinstance(m, dict):
                lines.append(f"{m.get('role', '?')}: {m.get('content', '')}")
            else:
                lines.append(str(m))
        return "\n\n".join(lines)
    return "" if prompt is None else str(prompt)


def _line_spans(text: str, base: int = 0) -> list[tuple[int, int]]:
    spans, start = [], base
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line)))
        start += len(line)
    return spans


def _word_spans(text: str, base: int = 0) -> list[tuple[int, int]]:
    return [(base + m.start(), base + m.end()) for m in TOKEN.finditer(text)]


def _opcodes(a_text, b_text, a, b, a_end, b_end, work: DiffWork | None = None):
    """Myers opcodes over token spans, as character ranges; common prefix/suffix trimmed first. Over the
    budget, the middle is one replace block (and ``work.capped`` counts it)."""
    a_tok = [a_text[s:e] for s, e in a]
    b_tok = [b_text[s:e] for s, e in b]
    pre = 0
    while pre < len(a_tok) and pre < len(b_tok) and a_tok[pre] == b_tok[pre]:
        pre += 1
    suf = 0
    while (suf < len(a_tok) - pre and suf < len(b_tok) - pre and a_tok[-1 - suf] == b_tok[-1 - suf]):
        suf += 1
    mid_a, mid_b = a_tok[pre:len(a_tok) - suf], b_tok[pre:len(b_tok) - suf]
    try:
        ops = myers_opcodes(mid_a, mid_b, work=work)
    except _OverBudget:
        if work is not None:
            work.capped += 1
        ops = [("replace", 0, len(mid_a), 0, len(mid_b))]
    ops = [(t, i1 + pre, i2 + pre, j1 + pre, j2 + pre) for t, i1, i2, j1, j2 in ops]
    if pre:
        ops.insert(0, ("equal", 0, pre, 0, pre))
    if suf:
        ops.append(("equal", len(a) - suf, len(a), len(b) - suf, len(b)))

    def pos(spans, i, end):
        return spans[i][0] if i < len(spans) else end

    for t, i1, i2, j1, j2 in ops:
        yield t, pos(a, i1, a_end), pos(a, i2, a_end), pos(b, j1, b_end), pos(b, j2, b_end)


def _char_opcodes(original: str, perturbed: str, work: DiffWork):
    """Lines first (cheap), then words inside each replaced block (like ``git diff --word-diff``)."""
    la, lb = _line_spans(original), _line_spans(perturbed)
    capped = work.capped
    for t, a0, a1, b0, b1 in _opcodes(original, perturbed, la, lb, len(original), len(perturbed), work):
        if t != "replace" or work.capped > capped:  # lines over budget: words (more tokens) would be too
            yield t, a0, a1, b0, b1
            continue
        wa, wb = _word_spans(original[a0:a1], a0), _word_spans(perturbed[b0:b1], b0)
        yield from _opcodes(original, perturbed, wa, wb, a1, b1, work)


def word_diff(original: str, perturbed: str, work: DiffWork | None = None) -> tuple[list, list]:
    """(segments of perturbed, changed ranges of original) at word level."""
    work = work if work is not None else DiffWork()
    segments: list = []
    changed: list = []
    ops = []
    for tag, a0, a1, b0, b1 in _char_opcodes(original, perturbed, work):
        if tag == "replace":  # keep a shared trailing space out of the highlight ("42 " -> "5 ")
            k = 0
            while (k < a1 - a0 and k < b1 - b0 and original[a1 - 1 - k] == perturbed[b1 - 1 - k]
                   and original[a1 - 1 - k].isspace()):
                k += 1
            if k:
                ops += [(tag, a0, a1 - k, b0, b1 - k), ("equal", a1 - k, a1, b1 - k, b1)]
                continue
        ops.append((tag, a0, a1, b0, b1))
    for tag, a0, a1, b0, b1 in ops:
        if tag == "equal":
            if a1 == a0:
                continue
            if segments and isinstance(segments[-1], list) and segments[-1][1] == a0:
                segments[-1][1] = a1
            else:
                segments.append([a0, a1])
            continue
        if a1 > a0:
            if changed and changed[-1][1] == a0:
                changed[-1][1] = a1
            else:
                changed.append([a0, a1])
        if b1 > b0:
            new = perturbed[b0:b1]
            if segments and isinstance(segments[-1], str):
                segments[-1] += new
            else:
                segments.append(new)
    return segments, changed


def rebuild(original: str, segments: list) -> str:
    """Inverse of word_diff's segments (Python code-point offsets); used by tests."""
    return "".join(original[s[0]:s[1]] if isinstance(s, list) else s for s in segments)


def to_utf16(original: str, segments: list, changed: list) -> tuple[list, list]:
    """Re-express offsets in UTF-16 code units, as JavaScript's String.slice counts them (emoji = 2)."""
    if not ASTRAL.search(original):
        return segments, changed
    pos, acc = [], 0
    for c in original:
        pos.append(acc)
        acc += 2 if ord(c) > 0xFFFF else 1
    pos.append(acc)
    segs = [[pos[s[0]], pos[s[1]]] if isinstance(s, list) else s for s in segments]
    return segs, [[pos[a], pos[b]] for a, b in changed]


def build_examples(cmp: Comparison) -> dict:
    strings: list[str] = []
    index: dict[str, int] = {}

    def sid(text: str) -> int:
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return index[text]

    diffs: dict[tuple[str, str], tuple[list, list, bool]] = {}  # the same flipped pair often recurs across RMs
    runs = []
    total = 0
    for run in cmp.runs:
        examples = run.results.get("examples")
        if not isinstance(examples, dict):
            continue
        probes = []
        for probe, items in examples.items():
            if not isinstance(items, list):
                continue
            rows = []
            for ex in items:
                if not isinstance(ex, dict):
                    continue
                original = "" if ex.get("original") is None else str(ex.get("original"))
                perturbed = "" if ex.get("perturbed") is None else str(ex.get("perturbed"))
                key = (original, perturbed)
                if key not in diffs:
                    work = DiffWork()
                    diffs[key] = (*to_utf16(original, *word_diff(original, perturbed, work)), work.capped > 0)
                segments, changed, capped = diffs[key]
                r0, r1 = num(ex.get("reward_original")), num(ex.get("reward_perturbed"))
                rows.append({
                    "id": "" if ex.get("id") is None else str(ex.get("id")),
                    "p": sid(_prompt_str(ex.get("prompt"))),
                    "o": sid(original),
                    "d": segments,
                    "c": changed,
                    # the browser prints "side" in the example's header: the note shows there
                    "side": str(ex.get("side") or "") + (f" · {TOO_LONG_NOTE}" if capped else ""),
                    "note": TOO_LONG_NOTE if capped else None,
                    "r0": r0, "r1": r1, "other": num(ex.get("other_reward")),
                    "flip": bool(ex.get("flipped", True)),
                })
            if rows:
                meta = run.probes.get(probe, {})
                probes.append({"name": str(probe), "kind": str(meta.get("kind") or cmp.probe_meta.get(
                    probe, {}).get("kind") or ""), "attribute": str(meta.get("attribute") or ""),
                    "examples": rows})
                total += len(rows)
        if probes:
            runs.append({"label": run.label, "color": run.color, "probes": probes})
    return {"strings": strings, "runs": runs, "total": total}
