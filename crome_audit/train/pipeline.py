"""The training pipeline: ``rubrics -> augment -> filter -> train -> eval``, resumable, one code path for
the methods ``crome``, ``bt`` and ``rrm``.

    from crome_audit.train.config import load_config
    from crome_audit.train.pipeline import Pipeline
    Pipeline(load_config("train/tiny-crome.yaml"), out_dir="runs/tiny").run()      # all stages
    Pipeline(cfg, out_dir).run_stage("augment")                                     # one stage

Layout of the output folder ``OUT`` (it IS the reward model: ``crome-audit run --rm OUT``)::

    OUT/config.json, model.safetensors, tokenizer files   the trained RM (chat template saved)
    OUT/crome_training.json                               method, intervention families, generator, data, counts
    OUT/training_log.jsonl, OUT/eval.json                 loss/eval log; final held-out evaluation
    OUT/.cache/pipeline/                                  stage state (ignored by the RM fingerprint)
        split.json                                        the fixed held-out split (seeded, recorded)
        rubrics.v1.jsonl, augment.v1.jsonl, filter.v1.jsonl   versioned stage artifacts
        stages/<stage>.json                               manifest: config hash, input hashes, counts
        checkpoints/step-N/                               resumable training state
        baseline/                                         the 'auto' BT baseline used by the filter

A stage is skipped when its manifest matches (same config hash and input hashes, artifact present);
an interrupted ``train`` resumes from its newest checkpoint. Under ``accelerate launch`` only the main
process runs the data stages; every process trains.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
import time
from pathlib import Path

from ..data import load_pairs, sha256_file, sha256_json, write_jsonl_atomic
from ..errors import CromeError, InputError
from ..results import package_versions, write_json_atomic
from .augment import augment_pairs, heldout_neutrals
from .config import RecipeConfig
from .rubrics import build_rubrics

STAGES = ("rubrics", "augment", "filter", "train", "eval")
VERSIONS = {"rubrics": 1, "augment": 1, "filter": 1, "train": 1, "eval": 1}
REWARDBENCH = ("reward-bench", "rewardbench", "reward_bench")


def _read_jsonl(path: Path) -> list[dict]:
    # "\n" only: an answer may hold U+2028 or U+0085, which str.splitlines would split on
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def public_generator_config(gen: dict | None) -> dict | None:
    """The resolved generator config (all fields, defaults filled) with every credential masked
    (crome_audit.secrets): keys in extra_body, user:password and ?api_key= in base_url."""
    from ..secrets import redact

    if gen is None:
        return None
    try:
        from ..generate import resolve_config

        return resolve_config(gen).public_dict()
    except Exception:  # an invalid config fails in its own stage; record what was given, masked
        return redact(dict(gen))


class Pipeline:
    def __init__(self, cfg: RecipeConfig, out_dir: str | None = None):
        import torch
        from accelerate import PartialState

        self.cfg = cfg
        out = out_dir or cfg.out_dir
        if not out:
            raise InputError("no output folder: pass --out DIR or set out_dir in the recipe")
        self.out = Path(out)
        self.work = self.out / ".cache" / "pipeline"
        # without a GPU, processes started by `accelerate launch --multi_gpu` / torchrun train on CPU over gloo
        self.state = PartialState(cpu=not torch.cuda.is_available())
        self._data = None
        self._generator = None

    # ------------------------------------------------------------------ helpers
    def _main(self, fn):
        """Run fn on the main process only, then let everyone read its artifact."""
        result = fn() if self.state.is_main_process else None
        self.state.wait_for_everyone()
        return result

    def artifact(self, stage: str) -> Path:
        return self.work / f"{stage}.v{VERSIONS[stage]}.jsonl"

    def manifest_path(self, stage: str) -> Path:
        return self.work / "stages" / f"{stage}.json"

    def manifest(self, stage: str) -> dict | None:
        p = self.manifest_path(stage)
        return json.loads(p.read_text()) if p.is_file() else None

    def _config_hash(self, stage: str) -> str:
        c = self.cfg
        sections = {"rubrics": ("method", "data", "augment", "generator"),
                    "augment": ("method", "data", "augment", "generator"),
                    "filter": ("method", "data", "filter", "model", "train"),
                    "train": ("method", "data", "model", "train"),
                    "eval": ("method", "data", "model")}[stage]
        return c.section_hash(*sections)

    def _inputs(self, stage: str) -> dict:
        prev = {"rubrics": None, "augment": "rubrics", "filter": "augment", "train": "filter", "eval": "train"}[stage]
        out = {"data": self.data()[2]["sha256"]}
        if prev:
            m = self.manifest(prev)
            if m is None:
                raise InputError(f"stage '{stage}' needs stage '{prev}' first: run `crome-audit {prev}` "
                                 f"(or `crome-audit train`) with the same --config and --out")
            out[prev] = m["artifact_sha256"]
        return out

    def is_done(self, stage: str) -> bool:
        m = self.manifest(stage)
        if m is None or m.get("version") != VERSIONS[stage] or m.get("config_hash") != self._config_hash(stage):
            return False
        try:
            if m.get("inputs") != self._inputs(stage):
                return False
        except InputError:
            return False
        art = Path(m["artifact"])
        return art.is_file() and sha256_file(art) == m["artifact_sha256"]

    def _write_manifest(self, stage: str, artifact: Path, counts: dict, started: float) -> dict:
        m = {"stage": stage, "version": VERSIONS[stage], "config_hash": self._config_hash(stage),
             "inputs": self._inputs(stage), "artifact": str(artifact), "artifact_sha256": sha256_file(artifact),
             "counts": counts, "seconds": round(time.time() - started, 3),
             "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_json_atomic(self.manifest_path(stage), m)
        return m

    def generator(self):
        """The configured generator backend (crome_audit.generate), built once; None without a config."""
        if self._generator is None and self.cfg.generator:
            from ..generate import load_generator

            self._generator = load_generator(self.cfg.generator)
        return self._generator

    # ------------------------------------------------------------------ data
    def data(self):
        """(train pairs, held-out pairs, info) with the fixed seeded split."""
        if self._data is not None:
            return self._data
        d = self.cfg.data
        low = str(d.path).lower()
        if any(w in low for w in REWARDBENCH) and not d.allow_rewardbench:
            raise InputError(f"data.path {d.path}: refusing to train on RewardBench (it is an evaluation set); "
                             f"set data.allow_rewardbench: true only if you really mean it")
        pairs, info = load_pairs(d.path, split=d.split, limit=d.limit, skip_invalid=d.skip_invalid)
        ids = [p["id"] for p in pairs]
        if len(set(ids)) != len(ids):
            for i, p in enumerate(pairs):
                p["id"] = f"{p['id']}#{i}"
        rng = random.Random(d.heldout_seed)
        order = list(range(len(pairs)))
        rng.shuffle(order)
        n_held = int(round(d.heldout_fraction * len(pairs)))
        held_idx = set(order[:n_held])
        train = [p for i, p in enumerate(pairs) if i not in held_idx]
        heldout = [p for i, p in enumerate(pairs) if i in held_idx]
        info = {**info, "n_train": len(train), "n_heldout": len(heldout), "heldout_seed": d.heldout_seed,
                "heldout_fraction": d.heldout_fraction, "heldout_ids_sha256": sha256_json([p["id"] for p in heldout])}
        if len(train) < 2:
            raise InputError(f"data.path {d.path}: only {len(train)} training pairs after the held-out split")

        def write_split():
            split_path = self.work / "split.json"
            if split_path.is_file():
                old = json.loads(split_path.read_text())
                if old.get("heldout_ids_sha256") != info["heldout_ids_sha256"] and old.get("sha256") == info["sha256"]:
                    raise CromeError(f"{split_path}: held-out split changed for the same data; delete the folder")
            write_json_atomic(split_path, {**info, "heldout_ids": [p["id"] for p in heldout]})

        self._main(write_split)
        self._data = (train, heldout, info)
        return self._data

    # ------------------------------------------------------------------ stages
    def run(self, until: str = "eval") -> dict:
        out = {}
        for stage in STAGES[: STAGES.index(until) + 1]:
            out[stage] = self.run_stage(stage)
        return out

    def run_stage(self, stage: str, force: bool = False) -> dict:
        if stage not in STAGES:
            raise InputError(f"unknown stage '{stage}' (use {', '.join(STAGES)})")
        self.data()
        done = not force and self.is_done(stage)
        self.state.wait_for_everyone()  # every process decides before the main one writes anything
        if done:
            return {**self.manifest(stage), "skipped": True}
        if not self.state.is_main_process:  # the main process holds OUT's lock for all ranks
            return getattr(self, f"_stage_{stage}")()
        from ..outputs import folder_lock

        with folder_lock(self.out):  # two `train` runs into one folder: the second is refused, one line
            return getattr(self, f"_stage_{stage}")()

    def _stage_rubrics(self):
        started = time.time()
        train, _, _ = self.data()

        def work():
            if self.cfg.method == "crome":
                rubrics, counts = build_rubrics(train, self.cfg.augment, self.generator())
            else:
                rubrics, counts = {}, {"prompts": 0, "skipped": f"method {self.cfg.method} uses no rubrics"}
            self.work.mkdir(parents=True, exist_ok=True)
            write_jsonl_atomic(self.artifact("rubrics"), [{"id": k, "attributes": v} for k, v in rubrics.items()])
            return self._write_manifest("rubrics", self.artifact("rubrics"), counts, started)

        self._main(work)
        return self.manifest("rubrics")

    def _stage_augment(self):
        started = time.time()
        self._inputs("augment")
        train, _, _ = self.data()

        def work():
            rubrics = {r["id"]: r["attributes"] for r in _read_jsonl(self.artifact("rubrics"))}
            gen = self.generator() if self.cfg.method == "crome" and (
                self.cfg.augment.rewrites == "generator" or self.cfg.augment.style_neutrals) else None
            records, counts = augment_pairs(self.cfg.method, train, rubrics, self.cfg.augment, gen)
            write_jsonl_atomic(self.artifact("augment"), records)
            return self._write_manifest("augment", self.artifact("augment"), counts, started)

        self._main(work)
        return self.manifest("augment")

    def _baseline(self) -> str:
        """The RM used by the filter: a spec, or 'auto' = BT on the original training pairs (all processes)."""
        f = self.cfg.filter
        if f.baseline != "auto":
            return f.baseline
        path = self.work / "baseline"
        key = self.cfg.section_hash("data", "model", "train") + f"-{f.baseline_steps}"
        key_file = self.work / "baseline.key"
        if (path / "config.json").is_file() and key_file.is_file() and key_file.read_text() == key:
            return str(path)
        from .trainer import train_reward_model

        train, heldout, _ = self.data()
        bt_cfg = copy.deepcopy(self.cfg)
        bt_cfg.method = "bt"
        bt_cfg.train.save_steps = None
        bt_cfg.train.eval_steps = None
        examples = [{**p, "label": "pref"} for p in train]
        steps = f.baseline_steps or bt_cfg.train.max_steps
        self._main(lambda: shutil.rmtree(self.work / "baseline_work", ignore_errors=True))
        train_reward_model(bt_cfg, examples, heldout, heldout_neutrals(heldout, self.cfg.data.heldout_seed), path,
                           self.work / "baseline_work", max_steps=steps, log_path=self.work / "baseline_log.jsonl")
        self._main(lambda: key_file.write_text(key))
        return str(path)

    def _stage_filter(self):
        started = time.time()
        self._inputs("filter")
        synthetic = _read_jsonl(self.artifact("augment"))
        f = self.cfg.filter
        use = f.enabled and bool(synthetic)
        baseline = self._baseline() if use else None

        def work():
            counts = {"in": len(synthetic), "enabled": use, "baseline": baseline, "threshold": f.threshold,
                      "tie_threshold": f.tie_threshold}
            kept = synthetic
            if use:
                kept = self._filter_with(baseline, synthetic)
            counts.update(kept=len(kept), dropped=len(synthetic) - len(kept),
                          kept_preference=sum(r["label"] == "pref" for r in kept),
                          kept_tie=sum(r["label"] == "tie" for r in kept),
                          kept_by_family=_by_family(kept))
            write_jsonl_atomic(self.artifact("filter"), kept)
            return self._write_manifest("filter", self.artifact("filter"), counts, started)

        self._main(work)
        return self.manifest("filter")

    def _filter_with(self, baseline: str, synthetic: list[dict]) -> list[dict]:
        from ..cache import ScoreCache
        from ..engine import ScoringEngine
        from ..models import load_reward_model

        m = self.cfg.model
        rm = load_reward_model(baseline, max_length=m.max_length, truncation=m.truncation, template=m.template,
                               trust_remote_code=m.trust_remote_code, dtype="fp32")
        engine = ScoringEngine(rm, cache=ScoreCache(str(self.work / "scores.sqlite")), progress=self.cfg.train.progress)
        prompts = [r["prompt"] for r in synthetic]
        r_a = engine.score(prompts, [r["chosen"] for r in synthetic], desc="filter: baseline")
        r_b = engine.score(prompts, [r["rejected"] for r in synthetic], desc="filter: baseline")
        kept = []
        for rec, a, b in zip(synthetic, r_a, r_b):
            if rec["label"] == "tie":
                score = 1 / (1 + math.exp(-abs(a - b)))
                keep = score > self.cfg.filter.tie_threshold
            else:
                score = 1 / (1 + math.exp(-(a - b)))
                keep = score < self.cfg.filter.threshold
            if keep:
                kept.append({**rec, "baseline_score": score})
        return kept

    def _stage_train(self):
        from .trainer import train_reward_model

        started = time.time()
        inputs = self._inputs("train")
        train, heldout, info = self.data()
        synthetic = _read_jsonl(self.artifact("filter"))
        examples = [{**p, "label": "pref", "kind": "original"} for p in train] + synthetic
        key = sha256_json({"config": self._config_hash("train"), "inputs": inputs})
        ckpt = self.work / "checkpoints"

        def check_key():
            key_file = self.work / "train.key"
            if not key_file.is_file() or key_file.read_text() != key:
                shutil.rmtree(ckpt, ignore_errors=True)
                (self.out / "training_log.jsonl").unlink(missing_ok=True)
                key_file.parent.mkdir(parents=True, exist_ok=True)
                key_file.write_text(key)

        self._main(check_key)
        ties = heldout_neutrals(heldout, self.cfg.data.heldout_seed)
        result = train_reward_model(self.cfg, examples, heldout, ties, self.out, self.work)

        def work():
            eval_rewards = result.pop("eval_rewards")
            write_json_atomic(self.work / "trainer_eval.json", {"metrics": result["eval"], "rewards": eval_rewards})
            counts = {"examples": len(examples), "originals": len(train), "synthetic": len(synthetic),
                      "ties": sum(e.get("label") == "tie" for e in examples), **result}
            self._write_training_json(info, examples, synthetic, result)
            return self._write_manifest("train", self.out / "training_log.jsonl", counts, started)

        self._main(work)
        return self.manifest("train")

    def _write_training_json(self, info, examples, synthetic, result):
        families = sorted({e["family"] for e in synthetic if e.get("family")})
        produced = sorted(self.manifest("augment")["counts"].get("by_family", {}))
        counts = {s: self.manifest(s)["counts"] for s in ("rubrics", "augment", "filter")}
        counts["train"] = {"examples": len(examples), "synthetic": len(synthetic), "steps": result["steps"]}
        # by attribute, for the audit's seen_in_training: spurious attributes tied by train.style.* ties, causal
        # attributes with causal pairs (both as trained on, after the filter)
        tied = sorted({e["attribute"] for e in synthetic if e.get("family", "").startswith("train.style.")})
        intervened = sorted({e["attribute"] for e in synthetic if e.get("kind") == "causal" and e.get("attribute")})
        doc = {"method": self.cfg.method, "intervention_families": families, "augment_families": produced,
               "tied_attributes": tied, "intervention_attributes": intervened,
               "attributes": list(self.cfg.augment.attributes) if self.cfg.method == "crome" else [],
               "generator": public_generator_config(self.cfg.generator),
               "data": {"path": info["path"], "sha256": info["sha256"], "n_train": info["n_train"],
                        "n_heldout": info["n_heldout"], "heldout_seed": info["heldout_seed"],
                        "heldout_fraction": info["heldout_fraction"], "n_skipped": info.get("n_skipped", 0)},
               "counts": counts, "seed": self.cfg.train.seed, "formatting": result["formatting"],
               "base_model": result["model"], "final_loss": result["final_loss"],
               "config": self.cfg.to_dict() | {"generator": public_generator_config(self.cfg.generator)},
               "versions": package_versions(("torch", "transformers", "accelerate", "peft", "numpy"))}
        write_json_atomic(self.out / "crome_training.json", doc)

    def _stage_eval(self):
        started = time.time()
        self._inputs("eval")

        def work():
            from ..engine import ScoringEngine
            from ..models import load_reward_model
            from .evaluation import EvalSet

            _, heldout, _ = self.data()
            ties = heldout_neutrals(heldout, self.cfg.data.heldout_seed)
            m = self.cfg.model
            rm = load_reward_model(str(self.out), max_length=m.max_length, truncation=m.truncation,
                                   template=m.template, trust_remote_code=m.trust_remote_code, dtype="fp32")
            engine = ScoringEngine(rm, cache=None, progress=self.cfg.train.progress)
            full = EvalSet.build(heldout, ties)
            metrics = full.metrics(engine.score(full.prompts, full.responses, desc="eval"))
            te = json.loads((self.work / "trainer_eval.json").read_text())
            sub = EvalSet.build(heldout, ties, self.cfg.train.eval_max_pairs)
            mine = engine.score(sub.prompts, sub.responses, desc="eval")
            diff = max((abs(a - b) for a, b in zip(mine, te["rewards"])), default=0.0)
            doc = {"metrics": metrics, "trainer_eval": te["metrics"],
                   "trainer_match": {"n": len(mine), "max_abs_diff": diff}, "rm": rm.info()}
            write_json_atomic(self.out / "eval.json", doc)
            return self._write_manifest("eval", self.out / "eval.json", {"n_pairs": metrics["n_pairs"],
                                                                         "n_ties": metrics["n_ties"]}, started)

        self._main(work)
        return self.manifest("eval")


def _by_family(records: list[dict]) -> dict:
    out: dict[str, int] = {}
    for r in records:
        out[r.get("family") or "none"] = out.get(r.get("family") or "none", 0) + 1
    return dict(sorted(out.items()))
