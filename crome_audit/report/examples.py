"""The example browser's payload: flipped pairs per run and probe, with a word-level diff, kept compact.

Texts are stored once in a string table (a prompt or an original response shared by several probes or runs
costs its bytes once). The perturbed text is not stored whole: it is a list of segments, each either
``[start, end]`` (copy these characters of the original) or a string (new text), so a probe that appends a
sentence costs only that sentence. ``changed`` lists the character ranges of the original that the probe
removed or replaced. The browser rebuilds both texts and highlights the difference, using text nodes only
(never innerHTML), so nothing in a response can run.

    from crome_audit.report.examples import build_examples
    payload = build_examples(cmp)     # JSON-able dict for <script type="application/json">
"""

from __future__ import annotations

import difflib
import re

from .compare import Comparison, num

TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
MAX_DIFF_TOKENS = 4000  # longer texts: diff on whole lines instead (SequenceMatcher is quadratic)


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


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line)))
        start += len(line)
    return spans


def word_diff(original: str, perturbed: str) -> tuple[list, list]:
    """(segments of perturbed, changed ranges of original) at word level (whitespace and punctuation apart)."""
    a = [m.span() for m in TOKEN.finditer(original)]
    b = [m.span() for m in TOKEN.finditer(perturbed)]
    if max(len(a), len(b)) > MAX_DIFF_TOKENS:
        a, b = _line_spans(original), _line_spans(perturbed)
    a_tok = [original[s:e] for s, e in a]
    b_tok = [perturbed[s:e] for s, e in b]
    sm = difflib.SequenceMatcher(None, a_tok, b_tok, autojunk=False)
    segments: list = []
    changed: list = []

    def a_range(i1, i2):
        if i1 == i2:
            pos = a[i1][0] if i1 < len(a) else len(original)
            return pos, pos
        return a[i1][0], a[i2 - 1][1]

    def b_range(j1, j2):
        if j1 == j2:
            return 0, 0
        return b[j1][0], b[j2 - 1][1]

    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            s, e = a_range(i1, i2)
            if segments and isinstance(segments[-1], list) and segments[-1][1] == s:
                segments[-1][1] = e
            else:
                segments.append([s, e])
            continue
        if i2 > i1:
            s, e = a_range(i1, i2)
            if changed and changed[-1][1] == s:
                changed[-1][1] = e
            else:
                changed.append([s, e])
        if j2 > j1:
            s, e = b_range(j1, j2)
            new = perturbed[s:e]
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
    if all(ord(c) <= 0xFFFF for c in original):
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
                segments, changed = to_utf16(original, *word_diff(original, perturbed))
                r0, r1 = num(ex.get("reward_original")), num(ex.get("reward_perturbed"))
                rows.append({
                    "id": "" if ex.get("id") is None else str(ex.get("id")),
                    "p": sid(_prompt_str(ex.get("prompt"))),
                    "o": sid(original),
                    "d": segments,
                    "c": changed,
                    "side": str(ex.get("side") or ""),
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
