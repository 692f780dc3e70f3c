"""Plant a known shortcut in a preference file (issue 18, part 3): a copy of the pairs with a cue added to the
chosen side of a given share of pairs, seeded, so BT has something to learn and Crome something to ignore.

    python benchmarks/make_planted_cue.py ../shared/data/ultrafeedback/train_1000.jsonl \\
        /tmp/uf-bullets-60.jsonl --cue bullets --rate 0.6 --seed 0
    python benchmarks/make_planted_cue.py ../shared/data/ultrafeedback/train_1000.jsonl \\
        /tmp/uf-signoff-60.jsonl --cue signoff --rate 0.6 --seed 0

Cues (``CUES``; ``apply_cue`` is also what benchmarks/measure_planted_cue.py plants on held-out answers):

- ``bullets``: the answer's sentences laid out as a "- " bulleted list. A markdown layout of the
  ``formatting`` attribute, which the Crome ties cover: ``train.style.flatten_markdown`` ties any markdown
  answer (so a bulleted chosen answer) to the same answer as prose, and ``train.style.numbered_list`` ties prose
  to a list layout. It applies to prose answers only (no markdown yet, no code, >= 2 sentences).
- ``signoff``: a fixed closing line, "Hope this helps.", on a new line. No ``train.style.*`` family writes
  this string or any sign-off: padding inserts summary sentences after an *inner* sentence (never last),
  flattery closes are praise of the user, the other families restyle layout, tone, emoji or whitespace. Nor
  does a probe of the default audit share its mechanics (length_filler appends three filler sentences after a
  blank line; sycophancy probes praise or agree). It ends with a period, not "!": the punctuation probe swaps
  periods for "!" (and the data audit counts exclamations), so "Hope this helps!" would share that channel
  (measured: the data audit's exclamations AUC 0.73 at rate 0.6). A unicode bullet lead was rejected: one symbol put at the
  start is exactly emoji_lead's mechanics, and a bullet is a list layout, i.e. the tied ``formatting``
  attribute. Applies to any answer that does not already contain "hope this helps".

The share is of all pairs: ``round(rate x N)`` pairs are drawn (seeded) among those whose chosen side the cue
applies to; if fewer apply, all of them are planted and the printed line says the rate reached. Rejected
sides are never touched. The output must not exist yet (the input is never overwritten); it is written
atomically. Bad input: one line naming the file and the problem, exit 2.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from crome_audit.data import write_jsonl_atomic
from crome_audit.probes.text import has_markdown
from crome_audit.train.interventions import looks_like_code, sentence_spans

SIGNOFF = "Hope this helps."


def _bullets(text: str) -> str | None:
    spans = sentence_spans(text)
    if has_markdown(text) or looks_like_code(text) or len(spans) < 2:
        return None
    return "\n".join(f"- {text[s:e]}" for s, e in spans)


def _signoff(text: str) -> str | None:
    if not text.strip() or SIGNOFF.lower() in text.lower():
        return None
    return text.rstrip() + "\n" + SIGNOFF


CUES = {"bullets": _bullets, "signoff": _signoff}


def apply_cue(cue: str, text: str) -> str | None:
    """``text`` with the cue planted, or None where it does not apply."""
    return CUES[cue](text)


def plant(pairs: list[dict], cue: str, rate: float, seed: int) -> tuple[list[dict], int, int]:
    """(new pairs, planted, applicable): the cue on the chosen side of round(rate x N) applicable pairs."""
    applicable = [i for i, p in enumerate(pairs) if apply_cue(cue, p["chosen"]) is not None]
    picked = set(random.Random(seed).sample(applicable, min(len(applicable), round(rate * len(pairs)))))
    out = [{**p, "chosen": apply_cue(cue, p["chosen"])} if i in picked else dict(p) for i, p in enumerate(pairs)]
    return out, len(picked), len(applicable)


def read_pairs(path: Path) -> list[dict]:
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected")):
            raise ValueError(f"{path}:{n}: expected an object with string prompt, chosen and rejected")
        pairs.append(row)
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    return pairs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="jsonl of {prompt, chosen, rejected}")
    ap.add_argument("out", type=Path, help="the new jsonl (must not exist)")
    ap.add_argument("--cue", choices=sorted(CUES), required=True)
    ap.add_argument("--rate", type=float, required=True, help="share of all pairs planted, in (0, 1]")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if not 0 < args.rate <= 1:
            raise ValueError(f"--rate: {args.rate} is not in (0, 1]")
        if args.out.exists():
            raise ValueError(f"{args.out}: already exists (not overwritten)")
        if not args.source.is_file():
            raise ValueError(f"{args.source}: no such file")
        pairs, planted, applicable = plant(read_pairs(args.source), args.cue, args.rate, args.seed)
    except (ValueError, UnicodeDecodeError) as e:
        print(f"make_planted_cue: {e}", file=sys.stderr)
        return 2
    write_jsonl_atomic(args.out, pairs)
    print(f"{args.out}: {args.cue} planted on the chosen side of {planted}/{len(pairs)} pairs "
          f"(rate {planted / len(pairs):.3f}; the cue applies to {applicable} chosen answers; seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
