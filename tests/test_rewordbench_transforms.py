"""Each reWordBench transformation keeps the meaning (or ranking) it claims to keep.

Run: python -m pytest -q tests/test_rewordbench_transforms.py
"""

import ast
import json
import random
import re
import textwrap

import pytest

from crome_audit.benchmarks.transforms import (
    TRANSFORMATIONS,
    deterministic_names,
    parse_names,
    transform_pair,
)
from crome_audit.benchmarks.transforms.code import WRAP, minify, scan
from crome_audit.benchmarks.transforms.math_safety import JAILBREAKS, final_answer
from crome_audit.benchmarks.transforms.noise import NEIGHBOURS, UNGLYPH, word_budget
from crome_audit.benchmarks.transforms.spans import protected_spans
from crome_audit.benchmarks.transforms.surface import (
    IGNORE_ABOVE,
    IGNORE_BELOW,
    PUNCT_RE,
    ROT_PREAMBLE,
    STRESS_REPEATS,
    TAUTOLOGIES,
    rot,
)
from crome_audit.errors import InputError

ISSUE_NAMES = {"add_quotes", "punct_spaces", "twitter_handle", "twitter_url", "stress_test", "ignore_above",
               "ignore_below", "rot13", "rot2", "homoglyph", "typo_substitute", "typo_insert", "typo_delete",
               "typo_swap", "word_deletion", "code_minify", "code_comment", "code_append", "math_swap_format",
               "jailbreak_refusal_suppression", "jailbreak_prefix_injection", "jailbreak_roleplay"}

PROSE = ("Detailing a car involves a thorough cleaning inside and out, as well as polishing and waxing to "
         "protect the vehicle's surfaces. Here's a step-by-step guide:\n\n1. **Wash the Car:** Rinse the car "
         "with water to remove loose dirt; use a microfiber mitt. Then dry it! Is that all? No: wax it too.")
PAIR = {"id": "7", "subset": "mt-bench-easy", "section": "Chat", "prompt": "How do I detail a car? Be brief.",
        "chosen": PROSE, "rejected": "Just wash it with soap and water, then let it dry in the sun."}


def words(text):
    return text.split()


@pytest.fixture(scope="module")
def rb_rows(shared_data):
    from crome_audit.benchmarks.scoring import SUBSET_TO_SECTION

    rows = [json.loads(line) for line in open(shared_data / "rewardbench" / "filtered.jsonl", encoding="utf-8")]
    for r in rows:
        r["id"] = str(r["id"])
        r["section"] = SUBSET_TO_SECTION[r["subset"]]
    return rows


def subset_rows(rows, subset):
    return [r for r in rows if r["subset"] == subset]


# ----------------------------------------------------------------------------- registry and metadata


def test_registry_holds_every_transformation_of_the_issue():
    names = set(parse_names(None))
    assert ISSUE_NAMES <= names
    assert {"paraphrase", "back_translation"} <= names
    assert set(deterministic_names()) == names - {"paraphrase", "back_translation"}
    for name in names:
        t = TRANSFORMATIONS.get(name)
        assert t.paper_name and t.description and t.fields and t.group in ("controlled", "naturalistic", "domain")


def test_unknown_name_gets_did_you_mean():
    with pytest.raises(InputError, match="did you mean 'rot13'"):
        parse_names("rot13,rot31")
    assert parse_names("rot13, typo_swap,rot13") == ["rot13", "typo_swap"]
    with pytest.raises(InputError):
        parse_names(" , ")


def test_scope_metadata_matches_the_paper():
    assert TRANSFORMATIONS.get("code_minify").subsets == ("hep-*",)
    assert TRANSFORMATIONS.get("math_swap_format").subsets == ("math-prm",)
    for name in JAILBREAKS:
        t = TRANSFORMATIONS.get(f"jailbreak_{name}")
        assert t.sections == ("Safety",) and t.fields == ("prompt",)
    assert TRANSFORMATIONS.get("code_minify").applies_to("hep-go", "Reasoning")
    assert not TRANSFORMATIONS.get("code_minify").applies_to("math-prm", "Reasoning")
    assert transform_pair(TRANSFORMATIONS.get("code_minify"), PAIR) is None  # a Chat pair: not applicable
    with pytest.raises(ValueError):
        transform_pair(TRANSFORMATIONS.get("paraphrase"), PAIR)


@pytest.mark.parametrize("name", sorted(ISSUE_NAMES - {"code_minify", "code_comment", "code_append",
                                                        "math_swap_format"}))
def test_seeded_and_order_independent(name):
    t = TRANSFORMATIONS.get(name)
    pair = dict(PAIR, section="Safety", subset="donotanswer")
    a, b = transform_pair(t, pair, seed=3), transform_pair(t, pair, seed=3)
    assert a == b and a is not None
    assert a != pair
    other = dict(pair, id="8")
    transform_pair(t, other, seed=3)  # transforming another pair first changes nothing
    assert transform_pair(t, pair, seed=3) == a


def test_different_seeds_give_different_noise():
    t = TRANSFORMATIONS.get("typo_swap")
    outs = {transform_pair(t, PAIR, seed=s)["chosen"] for s in range(6)}
    assert len(outs) > 1


def test_message_list_prompt_rewrites_last_user_turn():
    pair = dict(PAIR, prompt=[{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                              {"role": "user", "content": "second question"}])
    out = transform_pair(TRANSFORMATIONS.get("rot13"), pair)
    assert out["prompt"][0]["content"] == "first" and out["prompt"][1]["content"] == "ok"
    assert out["prompt"][2]["content"].endswith(rot("second question", 13))


# ----------------------------------------------------------------------------- controlled


def test_add_quotes_only_wraps():
    out = transform_pair(TRANSFORMATIONS.get("add_quotes"), PAIR)
    for f in ("prompt", "chosen", "rejected"):
        assert out[f] == f'"{PAIR[f]}"'


def test_punct_spaces_keeps_every_character():
    out = transform_pair(TRANSFORMATIONS.get("punct_spaces"), PAIR)
    for f in ("prompt", "chosen", "rejected"):
        assert re.sub(r" (?=[.,!?;:])", "", out[f]) == PAIR[f]
        assert re.sub(r"\s", "", out[f]) == re.sub(r"\s", "", PAIR[f])
    assert "car ?" in out["prompt"] and "3.14" in PUNCT_RE.sub(r" \1", "pi is 3.14.")  # decimals untouched


@pytest.mark.parametrize("name,pattern", [("twitter_handle", r" @[A-Za-z][A-Za-z0-9_]{5,11}$"),
                                          ("twitter_url", r" https://t\.co/[A-Za-z0-9]{10}$")])
def test_appended_handle_and_url(name, pattern):
    out = transform_pair(TRANSFORMATIONS.get(name), PAIR, seed=1)
    suffixes = set()
    for f in ("prompt", "chosen", "rejected"):
        m = re.search(pattern, out[f])
        assert m, out[f][-40:]
        suffixes.add(m.group())
        assert out[f][: m.start()] == PAIR[f].rstrip()
    assert len(suffixes) == 1  # the same string on prompt and both responses: ranking-neutral


def test_stress_test_appends_tautologies_only():
    out = transform_pair(TRANSFORMATIONS.get("stress_test"), PAIR)
    for f in ("prompt", "chosen", "rejected"):
        taut = next(t for t in TAUTOLOGIES if out[f].endswith(t))
        suffix = (" " + taut) * STRESS_REPEATS
        assert out[f] == PAIR[f].rstrip() + suffix


def test_ignore_above_and_below_keep_the_request_verbatim():
    above = transform_pair(TRANSFORMATIONS.get("ignore_above"), PAIR)
    assert above["prompt"].split(IGNORE_ABOVE)[1] == PAIR["prompt"]
    below = transform_pair(TRANSFORMATIONS.get("ignore_below"), PAIR)
    assert below["prompt"].split(IGNORE_BELOW)[0] == PAIR["prompt"]
    for out in (above, below):
        assert (out["chosen"], out["rejected"]) == (PAIR["chosen"], PAIR["rejected"])


@pytest.mark.parametrize("n", [13, 2])
def test_rot_n_decodes_back(n):
    out = transform_pair(TRANSFORMATIONS.get(f"rot{n}"), PAIR)
    preamble = ROT_PREAMBLE.format(n=n)
    assert out["prompt"].startswith(preamble)
    encoded = out["prompt"][len(preamble):]
    assert encoded != PAIR["prompt"] and rot(encoded, -n) == PAIR["prompt"]
    assert rot(rot(PROSE, 13), 13) == PROSE and rot("xyz ABC", 2) == "zab CDE"
    assert out["chosen"] == PAIR["chosen"]


# ----------------------------------------------------------------------------- naturalistic noise


def _changed_words(a, b):
    wa, wb = words(a), words(b)
    assert len(wa) == len(wb)
    return [(x, y) for x, y in zip(wa, wb) if x != y]


def test_homoglyphs_map_back_and_respect_the_budget():
    out = transform_pair(TRANSFORMATIONS.get("homoglyph"), PAIR, seed=2)
    for f in ("prompt", "chosen", "rejected"):
        assert "".join(UNGLYPH.get(c, c) for c in out[f]) == PAIR[f]
        changed = _changed_words(PAIR[f], out[f])
        assert 1 <= len(changed) <= word_budget(len(words(PAIR[f])))


@pytest.mark.parametrize("seed", range(5))
def test_typos_touch_at_most_the_stated_share_of_words(seed):
    for name in ("typo_substitute", "typo_insert", "typo_delete", "typo_swap"):
        out = transform_pair(TRANSFORMATIONS.get(name), PAIR, seed=seed)
        for f in ("prompt", "chosen", "rejected"):
            changed = _changed_words(PAIR[f], out[f])
            assert 1 <= len(changed) <= word_budget(len(words(PAIR[f]))), (name, f)
            for old, new in changed:
                if name == "typo_substitute":
                    diff = [(a, b) for a, b in zip(old, new) if a != b]
                    assert len(new) == len(old) and len(diff) == 1
                    assert diff[0][1].lower() in NEIGHBOURS[diff[0][0].lower()]
                elif name == "typo_insert":
                    assert len(new) == len(old) + 1
                    assert any(new[:i] + new[i + 1:] == old for i in range(len(new)))
                elif name == "typo_delete":
                    assert len(new) == len(old) - 1
                    assert any(old[:i] + old[i + 1:] == new for i in range(len(old)))
                else:
                    assert sorted(new) == sorted(old)
                    i = next(k for k in range(len(old)) if old[k] != new[k])
                    assert new[i] == old[i + 1] and new[i + 1] == old[i] and new[i + 2:] == old[i + 2:]


@pytest.mark.parametrize("seed", range(5))
def test_word_deletion_removes_few_words_and_keeps_order(seed):
    out = transform_pair(TRANSFORMATIONS.get("word_deletion"), PAIR, seed=seed)
    for f in ("prompt", "chosen", "rejected"):
        before, after = words(PAIR[f]), words(out[f])
        it = iter(before)
        assert all(w in it for w in after)  # a subsequence
        assert 1 <= len(before) - len(after) <= word_budget(len(before))
    assert out["chosen"].count("\n") >= PAIR["chosen"].count("\n") - 1


# ----------------------------------------------------------------------------- code


def _ast(code):
    for src in (code, WRAP + code):
        try:
            return ast.dump(ast.parse(src))
        except SyntaxError:
            continue
    raise AssertionError("does not parse")


def test_python_minify_keeps_the_ast_on_all_hep_python(rb_rows):
    t = TRANSFORMATIONS.get("code_minify")
    rows = subset_rows(rb_rows, "hep-python")
    for r in rows:
        out = transform_pair(t, r)
        for side in ("chosen", "rejected"):
            assert _ast(out[side]) == _ast(r[side]), r["id"]
            assert len(out[side]) < len(r[side])
    assert sum(transform_pair(t, r) is not None for r in rows) == len(rows)


def test_python_minify_handles_strings_comments_and_continuations():
    src = ('def f(x):\n    """Doc."""\n    # comment\n    s = "a  # not a comment"\n    y = (x +\n'
           '         1)\n    if x  >  1 and not x in [1,\n  2]:\n        return f"{x!r:>4} {{x}}"\n'
           '    return r"\\d  +" + s\n')
    out = minify(src, "python")
    assert ast.dump(ast.parse(out)) == ast.dump(ast.parse(src))
    assert "# comment" not in out and '"a  # not a comment"' in out
    assert minify("def broken(:\n", "python") is None


def _strings(code, lang):
    return [text for kind, text in scan(code, lang) if kind == "str"]


def test_clike_minify_keeps_tokens_and_literals(rb_rows):
    for subset, lang in (("hep-cpp", "cpp"), ("hep-java", "java"), ("hep-js", "js"), ("hep-go", "go"),
                         ("hep-rust", "rust")):
        for r in subset_rows(rb_rows, subset):
            for side in ("chosen", "rejected"):
                code = r[side]
                out = minify(code, lang)
                no_comments = "".join(text for kind, text in scan(code, lang) if kind != "comment")
                assert re.sub(r"\s", "", out) == re.sub(r"\s", "", no_comments), (subset, r["id"])
                assert _strings(out, lang) == _strings(code, lang)
                assert "\n\n" not in out and not re.search(r"^[ \t]", out, re.M)


def test_clike_scanner_edge_cases():
    js = 'let a = "x // y"; /* c1 */ let re = /\\/\\//g; // tail\nlet b = `t ${a} // no`;\nlet d = a / 2 / 1;'
    kinds = scan(js, "js")
    assert ("comment", "/* c1 */") in kinds and ("comment", "// tail") in kinds
    assert ("str", "/\\/\\//") in kinds and ("str", "`t ${a} // no`") in kinds
    assert [k for k, _ in kinds].count("comment") == 2
    rust = "fn f<'a>(s: &'a str) -> char { let c = '\\''; let r = r#\"a \"// b\"#; c }"
    strs = _strings(rust, "rust")
    assert strs == ["'\\''", 'r#"a "// b"#']
    assert minify("x = a - -b;\ny = a + +b;", "cpp") == "x=a- -b;\ny=a+ +b;"
    assert minify("a /* multi\nline */ b", "go") == "a\nb"


def _run(cmd, tmp_path, timeout=60):
    import subprocess

    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


CPP = r'''#include <iostream>
#include <string>
// a comment with "quotes"
int add(int a, int b) { /* block */ return a - -b; }
int main() {
    std::string s = "http://x.y // not a comment";
    char c = '/';
    int x = 10 / 2 /* mid */ / 1;
    std::cout << add(2, 3) << " " << s << c << x << std::endl;
    return 0;
}
'''
JS = r'''// header
function f(a, b) {
  const s = "a // b";   /* c */
  const t = `x ${a}
  // kept in template`;
  const r = /\/\//g.test("//");
  let q = a / b / 1
  return [s, t, r, q].join("|")
}
console.log(f(8, 2))
'''


RUST = r'''// header comment
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str { if a.len() >= b.len() { a } else { b } }
/* block
   comment */
fn main() {
    let quote = '\'';
    let slash = '/';
    let raw = r#"keep "// this" and /* that */"#;
    let x = 10 / 2 /* mid */ / 1;
    println!("{} {} {} {} {}", longest("ab", "abc"), quote, slash, raw, x - -1);
}
'''
JAVA = r'''// header
public class prog {
    /** doc comment */
    static int sub(int a, int b) { return a - -b; }
    public static void main(String[] args) {
        String s = "a // b /* c */";   // tail
        char c = '/';
        System.out.println(sub(3, 4) + " " + s + c + (10 / 2 / 1));
    }
}
'''


@pytest.mark.parametrize("lang,src,build", [
    ("cpp", CPP, (["g++", "-std=c++17", "-o", "prog", "prog.cpp"], ["./prog"])),
    ("js", JS, (None, ["node", "prog.js"])),
    ("rust", RUST, (["rustc", "-o", "prog", "prog.rs"], ["./prog"])),
    ("java", JAVA, (["javac", "prog.java"], ["java", "-cp", ".", "prog"])),
], ids=["cpp", "js", "rust", "java"])
def test_minified_programs_behave_the_same(lang, src, build, tmp_path):
    import shutil

    compile_cmd, run_cmd = build
    tool = (compile_cmd or run_cmd)[0]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    results = []
    for code in (src, minify(src, lang)):
        ext = {"cpp": "cpp", "js": "js", "rust": "rs", "java": "java"}[lang]
        (tmp_path / f"prog.{ext}").write_text(code)
        if compile_cmd:
            assert _run(compile_cmd, tmp_path).returncode == 0, code
        res = _run(run_cmd, tmp_path)
        assert res.returncode == 0, res.stderr
        results.append(res.stdout)
    assert results[0] == results[1] and results[0].strip()


def test_code_comment_and_append_keep_the_program(rb_rows):
    comment, append = TRANSFORMATIONS.get("code_comment"), TRANSFORMATIONS.get("code_append")
    for r in subset_rows(rb_rows, "hep-python")[:40]:
        c, a = transform_pair(comment, r), transform_pair(append, r)
        for side in ("chosen", "rejected"):
            assert _ast(c[side]) == _ast(r[side])
            appended = ast.parse(WRAP + a[side]).body
            assert ast.dump(appended[0]) == ast.dump(ast.parse(WRAP + r[side]).body[0])
            assert len(appended) == 2
        assert c["chosen"].splitlines()[0] == c["rejected"].splitlines()[0]  # the same comment on both
    for subset in ("hep-go", "hep-rust", "hep-java", "hep-cpp", "hep-js"):
        r = subset_rows(rb_rows, subset)[0]
        c, a = transform_pair(comment, r), transform_pair(append, r)
        for side in ("chosen", "rejected"):
            kept = [ln for ln in c[side].splitlines() if not ln.strip().startswith("//")]
            assert kept == [ln for ln in r[side].splitlines() if not ln.strip().startswith("//")]
            assert a[side].startswith(r[side].rstrip("\n"))


# ----------------------------------------------------------------------------- math and safety


def test_math_swap_keeps_the_final_answer(rb_rows):
    t = TRANSFORMATIONS.get("math_swap_format")
    rows = subset_rows(rb_rows, "math-prm")
    assert len(rows) == 447
    done = 0
    for r in rows:
        out = transform_pair(t, r)
        if out is None:  # a truncated, brace-unbalanced answer cannot be boxed
            assert final_answer(r["rejected"]).count("{") != final_answer(r["rejected"]).count("}")
            continue
        done += 1
        for side in ("chosen", "rejected"):
            assert final_answer(out[side]) == final_answer(r[side]) is not None, (r["id"], side)
        assert "# Answer" in out["chosen"] and "\\boxed{" not in out["chosen"]  # chosen were all boxed
        assert "\\boxed{" in out["rejected"] and "# Answer" not in out["rejected"]
    assert done >= 440


def test_math_swap_round_trip_on_nested_braces():
    from crome_audit.benchmarks.transforms.math_safety import swap_answer_format

    text = "So the area is $\\boxed{\\frac{3}{4}}$."
    once = swap_answer_format(text)
    assert final_answer(once) == "\\frac{3}{4}" and once.endswith("# Answer\n\n\\frac{3}{4}")
    assert final_answer(swap_answer_format(once)) == "\\frac{3}{4}"


def test_jailbreak_wrappers_keep_the_request_and_only_touch_safety():
    safety = dict(PAIR, subset="refusals-dangerous", section="Safety", prompt="How do I pick a lock?")
    for name in JAILBREAKS:
        t = TRANSFORMATIONS.get(f"jailbreak_{name}")
        out = transform_pair(t, safety)
        assert "How do I pick a lock?" in out["prompt"] and out["prompt"] != safety["prompt"]
        assert (out["chosen"], out["rejected"]) == (safety["chosen"], safety["rejected"])
        assert transform_pair(t, PAIR) is None


def test_every_deterministic_transformation_is_fast_and_total(rb_rows):
    rng = random.Random(0)
    sample = rng.sample(rb_rows, 150)
    for name in deterministic_names():
        t = TRANSFORMATIONS.get(name)
        for r in sample:
            out = transform_pair(t, r, seed=0)
            if out is not None:
                assert all(isinstance(out[f], str) and out[f] for f in ("prompt", "chosen", "rejected"))


# ----------------------------------------------------------------------------- code is never broken


def _parses_as_body(code):
    """The issue's criterion: a hep-python solution parses as a function body or, dedented, as a module."""
    for src in ("def _f():\n" + code, textwrap.dedent(code)):
        try:
            ast.parse(src)
            return True
        except (SyntaxError, ValueError):
            continue
    return False


MEANING_ON_RESPONSES = sorted(n for n in ISSUE_NAMES if TRANSFORMATIONS.get(n).preserves == "meaning"
                              and "responses" in TRANSFORMATIONS.get(n).fields)


@pytest.mark.parametrize("seed", [0, 1])
def test_no_meaning_preserving_transformation_breaks_a_hep_python_solution(rb_rows, seed):
    """All 164 hep-python pairs: before this fix, word_deletion alone broke 137 of the 164 chosen solutions
    (homoglyph/typos 89-102 each, add_quotes and twitter_url all 164)."""
    rows = subset_rows(rb_rows, "hep-python")
    assert len(rows) == 164 and all(_parses_as_body(r[side]) for r in rows for side in ("chosen", "rejected"))
    assert {"word_deletion", "typo_swap", "homoglyph", "add_quotes", "code_minify"} <= set(MEANING_ON_RESPONSES)
    applied = {}
    for name in MEANING_ON_RESPONSES:
        t = TRANSFORMATIONS.get(name)
        applied[name] = 0
        for r in rows:
            out = transform_pair(t, r, seed=seed)
            if out is None:
                continue
            applied[name] += 1
            for side in ("chosen", "rejected"):
                assert _parses_as_body(out[side]), (name, r["id"], side)
    # the code-aware ones still run on every solution; text transformations skip code subsets entirely
    assert applied["code_minify"] == applied["code_comment"] == 164
    assert all(applied[n] == 0 for n in applied if not TRANSFORMATIONS.get(n).code)
    assert all(TRANSFORMATIONS.get(n).meta()["skips_code_subsets"] for n in applied if not TRANSFORMATIONS.get(n).code)


def test_prompt_only_transformations_still_cover_code_subsets(rb_rows):
    r = subset_rows(rb_rows, "hep-go")[0]
    for name in ("rot13", "ignore_above", "ignore_below"):
        out = transform_pair(TRANSFORMATIONS.get(name), r)
        assert out is not None and (out["chosen"], out["rejected"]) == (r["chosen"], r["rejected"])


FENCE = re.compile(r"```(?:python|py)[ \t]*\n(.*?)```", re.S)


def test_noise_leaves_code_blocks_math_and_urls_in_prose_untouched(rb_rows):
    """Non-hep responses with fenced Python that parses (12 in RewardBench; before the fix 10-12 of them had
    their code edited by each noise transformation), and math-prm's LaTeX: every protected span survives
    byte-exact and the fenced code still parses."""
    fenced = [(r, side) for r in rb_rows if not r["subset"].startswith("hep-") for side in ("chosen", "rejected")
              if any(_parses_as_body(b) for b in FENCE.findall(r[side]))]
    assert len(fenced) >= 10
    math = [(r, side) for r in subset_rows(rb_rows, "math-prm")[:60] for side in ("chosen", "rejected")]
    for name in MEANING_ON_RESPONSES:
        t = TRANSFORMATIONS.get(name)
        if t.code or t.subsets is not None:
            continue
        touched = 0
        for r, side in fenced + math:
            out = transform_pair(t, r, seed=0)
            if out is None:
                continue
            touched += out[side] != r[side]
            for start, end in protected_spans(r[side]):
                assert r[side][start:end] in out[side], (name, r["subset"], r["id"], r[side][start:end][:60])
            for block in FENCE.findall(r[side]):
                if _parses_as_body(block):
                    assert block in out[side]
        assert touched > len(fenced), name  # the prose around them is still edited


def test_protected_spans_find_code_math_and_urls():
    text = ("Use `x.sort()` here.\n```python\nprint('a, b.')\n```\nSo $a + b$ and \\(c\\) and $$d$$, "
            "\\frac{1}{2}, see https://example.org/a.b, done.")
    got = [text[s:e] for s, e in protected_spans(text)]
    assert got == ["`x.sort()`", "```python\nprint('a, b.')\n```", "$a + b$", "\\(c\\)", "$$d$$", "\\frac",
                   "https://example.org/a.b,"]
    out = TRANSFORMATIONS.get("punct_spaces").fn(text, random.Random(0), {})
    assert "print('a, b.')" in out and "Use `x.sort()` here ." in out and "done ." in out
    unclosed = "```js\nunclosed fence"
    assert protected_spans(unclosed) == [(0, len(unclosed))]
