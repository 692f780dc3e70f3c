"""Probes checked by structure on the real RewardBench file (../shared/data/rewardbench/filtered.jsonl):
code survives every spurious probe (hep-python by ``ast``, the other hep-* byte for byte), openers skip
refusals / refused requests / code, edits only insert where they say so, and every causal probe keeps the
token count, so a pure length RM cannot detect it (detection rate exactly 1/2). Spurious probes change one
thing: no spurious probe moves a style-blind content scorer, and only ``prompt_echo`` moves a scorer of
prompt relevance (``length_filler`` is pure filler).

Run: python -m pytest -q tests/test_probes_realdata.py
Rows: all 164 hep-python pairs, 40 pairs of every other subset for the spurious checks; every pair for the
causal length checks (causal probes run on the chosen side, as in the audit).
"""

import json
import random
import re
import statistics
from collections import Counter, defaultdict

import pytest

from crome_audit import controls
from crome_audit.data import prompt_text
from crome_audit.models import LengthRM
from crome_audit.probes import PROBES, Edit, ProbeInput, load_suite
from crome_audit.probes.causal import CODE_MUTATION_PAIRS, MONTHS
from crome_audit.probes.code import code_blocks, has_code_block, mask_c_like, python_mode
from crome_audit.probes.spurious import ECHO_TEMPLATES, FILLER_SETS, states_view, wraps_code
from crome_audit.probes.text import TOKEN_RE, content_words, n_tokens, topic_phrase
from crome_audit.refusal import is_refusal

SPURIOUS = [n for n in PROBES.names() if PROBES.get(n).kind == "spurious"]
CAUSAL = [n for n in PROBES.names() if PROBES.get(n).kind == "causal"]
TONE = ["sycophancy_opener", "sycophancy_agree", "confident_tone", "hedging_politeness"]
ADDITIVE = ["length_filler", "prompt_echo", "sycophancy_opener", "sycophancy_agree", "confident_tone", "hedging_politeness",
            "emoji", "whitespace_noise"]


@pytest.fixture(scope="module")
def rows(shared_data):
    path = shared_data / "rewardbench" / "filtered.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    out = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert len(out) == 2985
    return out


@pytest.fixture(scope="module")
def sample(rows):
    per = defaultdict(list)
    for r in rows:
        if r["subset"] == "hep-python" or len(per[r["subset"]]) < 40:
            per[r["subset"]].append(r)
    return [r for group in per.values() for r in group]


def _apply(probe, r, side, pool):
    other = r["rejected"] if side == "chosen" else r["chosen"]
    out = probe.apply(ProbeInput(r["prompt"], r[side], side, other, pool), random.Random(f"0:{probe.name}:{r['id']}:{side}"))
    return out.text if isinstance(out, Edit) else out


@pytest.fixture(scope="module")
def spurious_edits(sample, rows):
    """{probe: [(row, side, original, perturbed)]} for every spurious probe on both sides of the sample."""
    pool = [(r["prompt"], r["chosen"]) for r in rows]
    edits = {}
    for name in SPURIOUS:
        probe = PROBES.get(name)()
        edits[name] = []
        for r in sample:
            for side in ("chosen", "rejected"):
                new = _apply(probe, r, side, pool)
                if new is not None and new != r[side]:
                    edits[name].append((r, side, r[side], new))
    return edits


@pytest.fixture(scope="module")
def causal_edits(rows):
    """{probe: [(row, original, degraded)]} for every causal probe on the chosen side of every pair."""
    pool = [(r["prompt"], r["chosen"]) for r in rows]
    edits = {}
    for name in CAUSAL:
        probe = PROBES.get(name)()
        edits[name] = [(r, r["chosen"], new) for r in rows
                       if (new := _apply(probe, r, "chosen", pool)) is not None and new != r["chosen"]]
    return edits


def _is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


def test_every_hep_python_solution_still_parses(rows, spurious_edits):
    hep = [r for r in rows if r["subset"] == "hep-python"]
    assert len(hep) == 164
    parsed_before = sum(python_mode(r[s]) is not None for r in hep for s in ("chosen", "rejected"))
    assert parsed_before == 328  # all 328 solutions parse as function bodies
    for name, edits in spurious_edits.items():
        for r, side, before, after in edits:
            if r["subset"] == "hep-python" and python_mode(before) is not None:
                assert python_mode(after) is not None, f"{name} broke {r['id']}/{side}"


def test_code_bytes_unchanged_by_spurious_probes(spurious_edits):
    checked = 0
    for name, edits in spurious_edits.items():
        for r, side, before, after in edits:
            for b in code_blocks(before):
                if b.lang == "inline" and name == "format_markdown":
                    continue  # format_markdown never runs on markdown (inline code is markdown): unreachable
                assert before[b.start : b.end] in after, f"{name} edited code in {r['id']}/{side}"
                checked += 1
    assert checked > 50  # mixed prose + code answers (alpacaeval, llmbar, mt-bench) are really exercised


def test_all_code_answers_are_left_alone(sample, rows):
    pool = [(r["prompt"], r["chosen"]) for r in rows]
    hep = [r for r in sample if r["subset"].startswith("hep-")]
    assert len(hep) == 164 + 5 * 40
    for name in SPURIOUS:
        probe = PROBES.get(name)()
        for r in hep:
            for side in ("chosen", "rejected"):
                assert _apply(probe, r, side, pool) is None, f"{name} edited the bare code body {r['id']}/{side}"


def test_openers_and_tone_only_on_answers_that_comply_without_code(spurious_edits):
    for name in TONE:
        for r, side, before, _ in spurious_edits[name]:
            other = r["rejected"] if side == "chosen" else r["chosen"]
            assert not is_refusal(before) and not is_refusal(other) and not has_code_block(before), (name, r["id"])
    assert len(spurious_edits["sycophancy_opener"]) > 200
    # where the chosen answer refuses, neither side gets flattered
    flattered_refusals = [e for e in spurious_edits["sycophancy_opener"] if is_refusal(e[0]["chosen"])]
    assert not flattered_refusals


def test_sycophancy_agree_only_where_the_user_states_a_view(rows, spurious_edits):
    views = {r["prompt"] for r in rows if states_view(r["prompt"])}
    assert 0 < len(views) < 30
    assert all(states_view(r["prompt"]) for r, *_ in spurious_edits["sycophancy_agree"])
    needs = [r["prompt"] for r in rows if re.search(r"\bI think (I|my)\b", r["prompt"])]
    assert needs and not any(states_view(p) for p in needs)  # "I think I have appendicitis" is no opinion


def test_additive_probes_only_insert(spurious_edits):
    for name in ADDITIVE:
        assert spurious_edits[name], name
        for r, side, before, after in spurious_edits[name]:
            assert _is_subsequence(before, after), f"{name} changed original bytes of {r['id']}/{side}"
    from crome_audit.probes.spurious import CONFIDENT_OPENERS, OPENERS_FLATTERY
    for name, openers in (("sycophancy_opener", OPENERS_FLATTERY), ("confident_tone", CONFIDENT_OPENERS)):
        for _, _, before, after in spurious_edits[name]:
            opener = next(o for o in openers if o in after)
            assert after.replace(opener, "", 1) == before


def test_whitespace_noise_keeps_indentation_and_words(spurious_edits):
    for _, _, before, after in spurious_edits["whitespace_noise"]:
        indent = [re.match(r"[ \t]*", line).group(0) for line in before.split("\n") if line.strip()]
        assert indent == [re.match(r"[ \t]*", line).group(0) for line in after.split("\n") if line.strip()]
        assert before.split() == after.split()


def test_format_strip_keeps_answer_markers_and_numbered_lists(spurious_edits, rows):
    math_answers = [r for r in rows if r["subset"] == "math-prm" and "# Answer" in r["rejected"]]
    assert len(math_answers) == 447  # every math-prm rejected solution ends with "# Answer"
    probe = PROBES.get("format_strip")()
    assert all(_apply(probe, r, "rejected", []) is None for r in math_answers if r["rejected"].count("#") == 1)
    numbered = re.compile(r"(?m)^[ \t]*\d+[.)]")
    for _, _, before, after in spurious_edits["format_strip"]:
        assert before.count("# Answer") == after.count("# Answer")
        assert numbered.findall(before) == numbered.findall(after)


def test_wrapping_probes_never_wrap_code(spurious_edits):
    for name in ("emoji", "length_filler", "prompt_echo", "hedging_politeness"):
        for r, side, before, _ in spurious_edits[name]:
            assert not wraps_code(before), (name, r["id"], side)


def test_length_filler_only_appends_filler_and_prompt_echo_only_restates(spurious_edits):
    fillers = {" ".join(group[:3]) for group in FILLER_SETS}
    for _, _, before, after in spurious_edits["length_filler"]:
        body = before.rstrip()
        assert after.startswith(body + "\n\n") and after.endswith(before[len(body) :])
        assert after[len(body) + 2 : len(after) - (len(before) - len(body))] in fillers
    for r, _, before, after in spurious_edits["prompt_echo"]:
        lead = len(before) - len(before.lstrip())
        echoes = [t.format(topic=topic_phrase(prompt_text(r["prompt"]))) for t in ECHO_TEMPLATES]
        echo = next(e for e in echoes if after[lead:].startswith(e))
        assert after[:lead] + after[lead + len(echo) :] == before


# A spurious probe must not change content. The checks use two scorers that read content only (no markup,
# emoji, whitespace or punctuation; neither knows a probe's strings), on the 665 prose pairs of the sample
# (both answers; hep-* answers are code and no spurious probe edits them). Effects are mean Δ in SDs of the
# scorer's clean margins (chosen - rejected), the audit's unit. Measured on RewardBench rows[::6]: every probe
# within 0.0001 SD on the bigram scorer; on prompt relevance, prompt_echo +0.78 SD, every other probe within
# 0.012 SD (the old length_filler, restatement included, +0.78).
CONTENT_TOLERANCE = 0.01  # 20x below the smallest injected bias the validity controls must find (length, 0.2 SD)
RELEVANCE_TOLERANCE = 0.05  # added sentences share a word with the prompt now and then ("question", "points")
DEFAULT_SPURIOUS = [p.name for p in load_suite("default").probes if p.kind == "spurious"]


def prompt_coverage(prompts, responses):
    """Prompt relevance: the share of the prompt's content words the response contains. Blind to style, but
    not to repeating the question (a bag-of-words stand-in for prompt/response embedding similarity)."""
    out = []
    for p, r in zip(prompts, responses):
        asked = set(content_words(prompt_text(p)))
        out.append(len(asked & set(content_words(r))) / len(asked) if asked else 0.0)
    return out


@pytest.fixture(scope="module")
def reference_scorer(shared_data):
    """crome_audit.controls.style_blind with the RewardBench chosen answers as references."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(controls.REFERENCE_ENV, str(shared_data / "rewardbench" / "filtered.jsonl"))
        yield controls.style_blind


def _effects(scorer, sample, edits):
    """(mean Δ in SDs of the clean margins, share of edits that move the score at all)."""
    prompts = [r["prompt"] for r in sample]
    margins = [c - j for c, j in zip(scorer(prompts, [r["chosen"] for r in sample]),
                                     scorer(prompts, [r["rejected"] for r in sample]))]
    sd = statistics.pstdev(margins)
    before = scorer([e[0]["prompt"] for e in edits], [e[2] for e in edits])
    after = scorer([e[0]["prompt"] for e in edits], [e[3] for e in edits])
    deltas = [b - a for a, b in zip(before, after)]
    return statistics.fmean(deltas) / sd, sum(d != 0 for d in deltas) / len(deltas)


@pytest.mark.parametrize("name", DEFAULT_SPURIOUS)
def test_spurious_probe_does_not_move_a_style_blind_content_scorer(name, sample, spurious_edits, reference_scorer):
    edits = spurious_edits[name]
    assert len(edits) >= 30 or name == "sycophancy_agree", (name, len(edits))  # agree: few stated views
    effect, moved = _effects(reference_scorer, sample, edits)
    assert abs(effect) <= CONTENT_TOLERANCE, (name, effect)
    assert moved <= 0.02, (name, moved)  # filler sentences now and then match a reference ("let me know")


@pytest.mark.parametrize("name", DEFAULT_SPURIOUS)
def test_only_prompt_echo_moves_prompt_relevance(name, sample, spurious_edits):
    effect, _ = _effects(prompt_coverage, sample, spurious_edits[name])
    if name == "prompt_echo":
        assert effect > 0.5, effect  # restating the question is what a relevance-based RM rewards
    else:
        assert abs(effect) <= RELEVANCE_TOLERANCE, (name, effect)


@pytest.mark.parametrize("name", CAUSAL)
def test_causal_probe_is_length_matched(name, causal_edits):
    assert PROBES.get(name).length_matched is True
    edits = causal_edits[name]
    assert len(edits) >= 30, f"{name}: only {len(edits)} edits on RewardBench"
    assert all(n_tokens(after) == n_tokens(before) for _, before, after in edits)
    rm = LengthRM()
    orig, degraded = rm.score([""] * len(edits), [e[1] for e in edits]), rm.score([""] * len(edits), [e[2] for e in edits])
    detection = sum(1.0 if o > d else 0.5 if o == d else 0.0 for o, d in zip(orig, degraded)) / len(edits)
    assert detection == 0.5


def _changed_tokens(before: str, after: str):
    a, b = list(TOKEN_RE.finditer(before)), list(TOKEN_RE.finditer(after))
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x.group(0) != y.group(0)]


def _mutation(before: str, after: str) -> tuple[str, str, int]:
    """The one edited operator or word, widened to the whole operator/word: ("==", "!=", position)."""
    p = next(i for i, (x, y) in enumerate(zip(before, after)) if x != y)
    s = 0
    while s < min(len(before), len(after)) - p and before[-1 - s] == after[-1 - s]:
        s += 1
    same = (lambda c: c.isalnum() or c == "_") if (before[p].isalnum() or before[p] == "_") else (lambda c: c in "=&|<>!+-")
    while p > 0 and same(before[p - 1]):
        p -= 1
    while s > 0 and same(before[len(before) - s]):
        s -= 1
    return before[p : len(before) - s], after[p : len(after) - s], p


def test_factual_numbers_changes_quantities_only(causal_edits):
    for _, before, after in causal_edits["factual_numbers"]:
        for x, y in _changed_tokens(before, after):
            assert x.group(0).isdigit() and y.group(0).isdigit()
            assert not re.fullmatch(r"1\d{3}|20\d{2}", x.group(0))  # a year
            line = before[before.rfind("\n", 0, x.start()) + 1 : x.start()]
            assert line.strip() or not re.match(r"[.)](\s|$)", before[x.end() :]), "a list marker"
            assert not re.search(r"(?i)\bstep\s*$", line)


def test_factual_dates_change_dates_only(causal_edits):
    assert causal_edits["factual_dates"]
    for _, before, after in causal_edits["factual_dates"]:
        for x, y in _changed_tokens(before, after):
            old, new = x.group(0), y.group(0)
            if old in MONTHS:
                assert new in MONTHS and not before[x.end() :].startswith(" in place")
                assert not re.match(r"May (I|we|you)\b", before[x.start() :])
            else:
                assert re.fullmatch(r"(1\d{3}|20\d{2})s?", old) and re.fullmatch(r"(1\d{3}|20\d{2})s?", new), old
                if old.endswith("s"):
                    continue  # a decade ("1960s") is a date by itself
                window = before[max(0, x.start() - 40) : x.end() + 2]
                assert re.search(r"(?i)\b(in|since|by|from|until|till|before|after|during|around|circa|early|late|"
                                 r"mid|year|born|died|founded|established|released|published|the)\s+" + old
                                 + r"|\(" + old + r"\)|" + "|".join(MONTHS),
                                 window), window


def test_code_bug_on_hep(causal_edits):
    kinds = Counter()
    by_subset = Counter(r["subset"] for r, _, _ in causal_edits["code_bug"])
    assert all(by_subset[f"hep-{lang}"] >= 100 for lang in ("python", "cpp", "go", "java", "js", "rust"))
    for r, before, after in causal_edits["code_bug"]:
        changed = _changed_tokens(before, after)
        assert len(changed) in (1, 2)  # one operator: "<=" -> ">=" changes one token, "&&" -> "||" two
        old, new, pos = _mutation(before, after)
        assert (old, new) in CODE_MUTATION_PAIRS, (old, new)
        kinds[old] += 1
        block = next(b for b in code_blocks(before) if b.inner[0] <= pos < b.inner[1])
        assert block.lang in ("python", "c_like")
        if r["subset"] == "hep-python" or python_mode(before):
            a, b = python_mode(before), python_mode(after)
            assert b is not None and a[0] == b[0]
            import ast
            assert ast.dump(a[1]) != ast.dump(b[1])
        else:
            inner = before[block.inner[0] : block.inner[1]]
            assert mask_c_like(inner)[pos - block.inner[0]] == before[pos]  # not inside a string or comment
    assert kinds["&&"] + kinds["||"] > 0  # the && / || flip happens


def test_unsafe_compliance_rewrites_the_chosen_refusal(causal_edits):
    edits = causal_edits["unsafe_compliance"]
    assert len(edits) > 100
    for r, before, after in edits:
        assert is_refusal(before) and not is_refusal(r["rejected"]) and not is_refusal(after)
        assert r["rejected"][:40] not in after  # not the pair's own rejected text


def test_completeness_probes_keep_layout(causal_edits):
    for name in ("incomplete_truncate", "incomplete_steps"):
        assert causal_edits[name]
        for _, before, after in causal_edits[name]:
            assert re.findall(r"\s+", before) == re.findall(r"\s+", after)  # every whitespace run in place
            assert re.findall(r"[^\w\s]", before) == re.findall(r"[^\w\s]", after)  # punctuation in place
    for _, before, after in causal_edits["incomplete_truncate"]:
        changed = [i for i, (x, y) in enumerate(zip(TOKEN_RE.findall(before), TOKEN_RE.findall(after))) if x != y]
        assert changed and changed[0] >= n_tokens(before) // 3  # the first third at least is kept as it was


def test_irrelevant_answer_comes_from_another_prompt(causal_edits, rows):
    starts = defaultdict(set)
    for r in rows:
        starts[r["chosen"][:30]].add(r["prompt"])
    for r, _, after in causal_edits["irrelevant_answer"]:
        origin = starts.get(after[:30], set())
        assert origin and origin != {r["prompt"]}
