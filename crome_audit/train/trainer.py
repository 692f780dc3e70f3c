"""The reward-model trainer: Bradley-Terry + tie loss on transformers, driven by ``accelerate``.

    result = train_reward_model(cfg, examples, heldout_pairs, heldout_ties, out_dir, work_dir)

Runs unchanged in one process or under ``accelerate launch`` (DDP, FSDP, DeepSpeed; configs in
``train/accelerate/``). Design:
- tokenization through :class:`crome_audit.formatting.RMFormatter`, and collation and last-real-token pooling
  through :mod:`crome_audit.hf_common`, the functions the scorer calls, so the saved folder scores identically
  under ``crome-audit run --rm OUTDIR``;
- batches are planned globally (seed, epoch) and every process takes its slice of each global batch, so a
  run with N processes x batch b follows the same loss curve as one process with batch N*b;
  ``group_by_length`` sorts mega-batches of 50 global batches by length (less padding), then shuffles batches;
  the last incomplete global batch of an epoch is dropped;
- loss = sum of per-pair losses / global pairs per step (BT on preferences, lambda x tie loss on neutrals);
- checkpoints every ``save_steps``: model (safetensors) and optimizer (tensors, read back with
  ``torch.load(weights_only=True)``) through ``accelerator.save_state``; scheduler and RNG states as JSON; the step
  (= data position) in ``trainer_state.json``. No pickle is ever loaded: a checkpoint folder holding anything else
  (a ``.pkl``, an unknown file) is refused before loading. A re-run resumes from the newest complete checkpoint;
- periodic eval (held-out accuracy, tie-consistency, length/formatting effect sizes) into the JSONL log;
- a non-finite loss stops the run with a clear message (nothing half-written).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import random
import re
import shutil
import time
from pathlib import Path

from ..errors import ConfigError, InputError
from .base_models import load_base_model, save_model
from .evaluation import EvalSet
from .losses import pair_losses


def _reward_module(hf_model):
    import torch

    from ..hf_common import reward_forward, uses_own_pooling

    class _RM(torch.nn.Module):
        """Wraps a sequence-classification model; pooling is the scorer's (crome_audit.hf_common)."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.own_pooling = uses_own_pooling(model)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            return reward_forward(self.model, input_ids, attention_mask, token_type_ids, self.own_pooling)

    return _RM(hf_model)


def _collate(items, pad_id, device):
    from ..hf_common import collate

    return collate(items, pad_id, device)


def plan_epoch(lengths: list[int], global_batch: int, seed: int, epoch: int, group_by_length: bool) -> list[list[int]]:
    """Global batches of one epoch (same on every process)."""
    rng = random.Random(seed * 100003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    if group_by_length:
        mega = global_batch * 50
        idx = [k for s in range(0, len(idx), mega) for k in sorted(idx[s: s + mega], key=lambda k: -lengths[k])]
    batches = [idx[s: s + global_batch] for s in range(0, len(idx) - global_batch + 1, global_batch)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def _latest_checkpoint(ckpt_dir: Path) -> Path | None:
    done = [p for p in ckpt_dir.glob("step-*") if re.fullmatch(r"step-[0-9]+", p.name)
            and (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


# What a checkpoint folder may hold. accelerate writes model*.safetensors and optimizer*.bin (tensors only, read
# with weights_only=True); we write the JSON files. Under FSDP / DeepSpeed their own shard folders are allowed too.
_PLAIN_FILES = re.compile(r"(model(_[0-9]+)?\.safetensors|optimizer(_[0-9]+)?\.bin|scheduler\.json|rng_[0-9]+\.json|"
                          r"trainer_state\.json)")
_SHARDED = re.compile(r"(pytorch_model_fsdp_[0-9]+|optimizer_[0-9]+|pytorch_model|latest|zero_to_fp32\.py)")


def check_checkpoint_folder(folder: Path, sharded: bool = False) -> None:
    """Refuse a checkpoint folder that holds anything but the plain state we write (no pickle ever runs)."""
    # a symlink is refused even under a plain name: it could point anywhere (a pickle, /dev/zero)
    bad = sorted(p.name + (" (a symlink)" if p.is_symlink() else "") for p in folder.iterdir()
                 if p.is_symlink() or (not (p.is_file() and _PLAIN_FILES.fullmatch(p.name))
                                       and not (sharded and _SHARDED.fullmatch(p.name))))
    if bad:
        raise InputError(f"{folder}: checkpoint refused: unexpected {', '.join(bad[:3])}"
                         f"{' ...' if len(bad) > 3 else ''} (only tensors and JSON are loaded; a .pkl is never "
                         f"unpickled); delete {folder.parent} to start over")
    for weights in sorted(folder.glob("*.safetensors")):  # a truncated file: name it, before accelerate fails
        check_safetensors(weights, f"delete {folder.parent} to start over")


def check_safetensors(path: Path, hint: str) -> None:
    """Refuse a safetensors file whose header or size is wrong (truncated, not safetensors at all)."""
    try:
        raw = path.open("rb").read(8)
        header_len = int.from_bytes(raw, "little") if len(raw) == 8 else -1
        size = path.stat().st_size
        if header_len < 2 or 8 + header_len > size:
            raise ValueError("header longer than the file")
        with path.open("rb") as f:
            f.seek(8)
            header = json.loads(f.read(header_len))
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        if 8 + header_len + max(ends, default=0) != size:
            raise ValueError(f"{size:,} bytes, the header describes {8 + header_len + max(ends, default=0):,}")
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        raise InputError(f"{path}: corrupt safetensors file ({e}); {hint}") from None


def _read_json_state(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: unreadable {what}: {e}; delete {path.parent.parent} to start over") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: {what} must be a JSON object; delete {path.parent.parent} to start over")
    return data


def _plain(value) -> bool:
    if isinstance(value, bool | int | float | str) or value is None:
        return True
    return isinstance(value, list) and all(_plain(v) for v in value)


def rng_state() -> dict:
    """Python, numpy and torch RNG states as plain JSON data."""
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    out = {"python": [version, list(internal), gauss], "numpy": [name, keys.tolist(), int(pos), int(has_gauss),
                                                                  float(cached)],
           "torch": torch.get_rng_state().tolist()}
    if torch.cuda.is_available():
        out["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return out


def set_rng_state(state: dict, path: Path) -> None:
    import numpy as np
    import torch

    try:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), None if gauss is None else float(gauss)))
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((str(name), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
        torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise InputError(f"{path}: invalid RNG state ({type(e).__name__}); delete {path.parent.parent} "
                         f"to start over") from None


def load_scheduler_state(sched, path: Path) -> None:
    """Restore a scheduler from JSON, accepting only the keys (and plain types) a fresh one has."""
    fresh = sched.state_dict()
    state = _read_json_state(path, "scheduler state")
    # lr_lambdas carry the lambdas' __dict__ (empty for transformers' partials): must equal a fresh one's, so
    # a crafted file cannot set attributes on them
    if set(state) != set(fresh) or state.get("lr_lambdas") != fresh.get("lr_lambdas") \
            or not all(_plain(v) for k, v in state.items() if k != "lr_lambdas"):
        raise InputError(f"{path}: scheduler state does not match this scheduler; delete {path.parent.parent} "
                         f"to start over")
    sched.load_state_dict(state)


class Trainer:
    def __init__(self, cfg, out_dir, work_dir, max_steps: int | None = None, log_path=None, accelerator=None):
        import torch
        from accelerate import Accelerator

        self.cfg = cfg
        self.t = cfg.train
        self.out_dir = Path(out_dir)
        self.work_dir = Path(work_dir)
        self.ckpt_dir = self.work_dir / "checkpoints"
        self.max_steps_override = max_steps
        use_bf16 = self.t.bf16 == "true" or (self.t.bf16 == "auto" and torch.cuda.is_available()
                                              and torch.cuda.is_bf16_supported())
        self.acc = accelerator or Accelerator(mixed_precision="bf16" if use_bf16 else "no",
                                              cpu=not torch.cuda.is_available())
        self.bf16 = use_bf16
        self.log_path = Path(log_path) if log_path else self.out_dir / "training_log.jsonl"

    # ------------------------------------------------------------------ setup
    def _load(self):
        from ..formatting import RMFormatter

        m = self.cfg.model
        model, tok, self.model_info = load_base_model(m, seed=self.t.seed)
        if m.disable_dropout:
            import torch

            for mod in model.modules():
                if isinstance(mod, torch.nn.Dropout):
                    mod.p = 0.0
        if m.gradient_checkpointing:
            kwargs = {"use_reentrant": False}
            if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 name
                model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
            model.config.use_cache = False
        if m.lora:
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise InputError("model.lora: true needs the 'peft' package (pip install peft)") from None
            target = m.lora_target_modules
            head = "score" if hasattr(model, "score") else "classifier"
            lcfg = LoraConfig(r=m.lora_r, lora_alpha=m.lora_alpha, lora_dropout=m.lora_dropout,
                              target_modules=target, modules_to_save=[head])
            self.hf = model
            module = _reward_module(model)
            self.peft_model = get_peft_model(model, lcfg)
            module.model = self.peft_model.base_model.model  # same modules, now with LoRA layers injected
        else:
            self.hf, self.peft_model = model, None
            module = _reward_module(model)
        self.tok = tok
        self.formatter = RMFormatter(tok, m.max_length, m.truncation, m.template)
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        return module

    def _encode(self, examples):
        prompts = [e["prompt"] for e in examples]
        a = self.formatter.encode_many(prompts, [e["chosen"] for e in examples])
        b = self.formatter.encode_many(prompts, [e["rejected"] for e in examples])
        return a, b

    # ------------------------------------------------------------------ eval
    def rewards(self, module, prompts, responses) -> list[float]:
        import torch

        enc = self.formatter.encode_many(prompts, responses)
        order = sorted(range(len(enc)), key=lambda i: -len(enc[i].input_ids))
        out = [0.0] * len(enc)
        was_training = module.training
        module.eval()
        bs = self.t.eval_batch_size
        with torch.no_grad(), self.acc.autocast():
            for s in range(0, len(order), bs):
                idx = order[s: s + bs]
                ids, mask, types = _collate([enc[i] for i in idx], self.pad_id, self.acc.device)
                r = module(ids, mask, types).float().cpu().tolist()
                for i, v in zip(idx, r):
                    out[i] = v
        module.train(was_training)
        return out

    def evaluate(self, module, evalset: EvalSet) -> tuple[dict, list[float]]:
        rewards = self.rewards(module, evalset.prompts, evalset.responses)
        return evalset.metrics(rewards), rewards

    # ------------------------------------------------------------------ train
    def train(self, examples: list[dict], heldout_pairs: list[dict], heldout_ties: list[dict]) -> dict:
        import torch
        from tqdm.auto import tqdm
        from transformers import get_scheduler

        acc, t = self.acc, self.t
        world = acc.num_processes
        global_batch = t.batch_size * world * t.gradient_accumulation_steps
        if len(examples) < global_batch:
            raise InputError(f"only {len(examples)} training pairs for a global batch of {global_batch} "
                             f"(batch_size x processes x gradient_accumulation_steps)")
        module = self._load()
        enc_a, enc_b = self._encode(examples)
        lengths = [max(len(x.input_ids), len(y.input_ids)) for x, y in zip(enc_a, enc_b)]
        is_tie = [e.get("label") == "tie" for e in examples]
        margins = [float(e.get("margin", 0.0) or 0.0) for e in examples]
        steps_per_epoch = len(examples) // global_batch
        total = self.max_steps_override or t.max_steps or max(1, math.ceil(t.num_epochs * steps_per_epoch))
        params = [p for p in module.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
        sched = get_scheduler(t.lr_scheduler, opt, num_warmup_steps=int(t.warmup_ratio * total),
                              num_training_steps=total)
        self._sched = sched
        # the scheduler is not prepared: accelerate would step it once per process (it assumes sharded
        # dataloaders); every process here walks all global steps. It is checkpointed as JSON (scheduler.json),
        # never through accelerate's register_for_checkpointing, whose custom_checkpoint_N.pkl is unpickled
        # with weights_only=False on load.
        ds = getattr(acc.state, "deepspeed_plugin", None)
        if ds is not None:  # no dataloader is prepared, so DeepSpeed needs the micro-batch size spelled out
            ds.deepspeed_config["train_micro_batch_size_per_gpu"] = t.batch_size
        module, opt = acc.prepare(module, opt)
        evalset = EvalSet.build(heldout_pairs, heldout_ties, t.eval_max_pairs)

        step = 0
        latest = _latest_checkpoint(self.ckpt_dir)
        if latest is not None:
            state = _read_json_state(latest / "trainer_state.json", "trainer state")
            if state.get("n_examples") != len(examples) or state.get("total_steps") != total:
                raise InputError(f"{latest}: checkpoint was made for {state.get('n_examples')} pairs / "
                                 f"{state.get('total_steps')} steps, this run has {len(examples)} / {total}; "
                                 f"delete {self.ckpt_dir} to start over")
            step = state.get("step")
            if isinstance(step, bool) or not isinstance(step, int) or not 0 < step <= total:
                raise InputError(f"{latest / 'trainer_state.json'}: 'step' must be a whole number in 1..{total}, "
                                 f"got {step!r}; delete {self.ckpt_dir} to start over")
            self._load_checkpoint(latest, sched)
            resumed, resumed_at = True, step
        else:
            resumed, resumed_at = False, None
        if acc.is_main_process:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._truncate_log(step)
            if resumed:
                self._log({"step": step, "resumed_from": str(latest)})
        bar = tqdm(total=total, initial=step, desc=f"train ({self.cfg.method})", unit="step",
                   disable=not (t.progress and acc.is_main_process))
        plan_cache: dict[int, list[list[int]]] = {}
        # pairs_done counts this process's session (throughput); pairs_trained counts every step, resumed or not
        start, pairs_done, last_loss, eval_s = time.perf_counter(), 0, None, 0.0
        module.train()
        last_eval = None
        while step < total:
            epoch, pos = divmod(step, steps_per_epoch)
            if epoch not in plan_cache:
                plan_cache = {epoch: plan_epoch(lengths, global_batch, t.seed, epoch, t.group_by_length)}
            batch = plan_cache[epoch][pos]
            micro = t.batch_size * world
            loss_sum = torch.zeros((), device=acc.device)
            for k in range(t.gradient_accumulation_steps):
                mb = batch[k * micro: (k + 1) * micro]
                mine = mb[acc.process_index * t.batch_size: (acc.process_index + 1) * t.batch_size]
                items = [enc_a[i] for i in mine] + [enc_b[i] for i in mine]
                ids, mask, types = _collate(items, self.pad_id, acc.device)
                tie = torch.tensor([is_tie[i] for i in mine], device=acc.device)
                margin = torch.tensor([margins[i] for i in mine], device=acc.device) if t.use_margin else None
                last_micro = k == t.gradient_accumulation_steps - 1
                ctx = acc.no_sync(module) if not last_micro else contextlib.nullcontext()
                with ctx:
                    with acc.autocast():
                        r = module(ids, mask, types).float()
                    n = len(mine)
                    per = pair_losses(r[:n], r[n:], tie, margin, t.tie_weight, t.center_rewards_coefficient)
                    if t.debug_nan_at_step is not None and step + 1 == t.debug_nan_at_step:
                        per = per * float("nan")
                    loss = per.sum() * world / len(batch)
                    acc.backward(loss)
                loss_sum = loss_sum + per.detach().sum()
            total_loss = acc.reduce(loss_sum, reduction="sum").item() / len(batch)
            if not math.isfinite(total_loss):
                raise ConfigError(f"training loss became {total_loss} at step {step + 1} (last finite loss "
                                 f"{last_loss}); lower train.learning_rate, set train.bf16=false, or check the data "
                                 f"for empty texts; the last checkpoint in {self.ckpt_dir} is intact")
            if t.max_grad_norm:
                acc.clip_grad_norm_(module.parameters(), t.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            pairs_done += len(batch)
            last_loss = total_loss
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss:.4f}")
            record = {"step": step, "epoch": epoch + (pos + 1) / steps_per_epoch, "loss": total_loss,
                      "lr": sched.get_last_lr()[0]}
            if step % max(1, t.logging_steps) == 0 or step == total or step == 1:
                self._log({**record, "pairs_per_s": pairs_done / (time.perf_counter() - start - eval_s)})
            if (t.eval_steps and step % t.eval_steps == 0) or step == total:
                t_eval = time.perf_counter()
                metrics, rewards = self.evaluate(module, evalset)
                eval_s += time.perf_counter() - t_eval
                last_eval = {"metrics": metrics, "rewards": rewards}
                self._log({"step": step, "eval": metrics})
            if t.save_steps and step % t.save_steps == 0 and step < total:
                self._checkpoint(step, len(examples), total)
        bar.close()
        elapsed = time.perf_counter() - start - eval_s  # training time only (periodic evals excluded)
        self._save_final(module)
        return {"steps": total, "final_loss": last_loss, "seconds": elapsed, "pairs_trained": total * global_batch,
                "pairs_this_run": pairs_done, "resumed_at_step": resumed_at,
                "pairs_per_s": pairs_done / elapsed if elapsed else None, "eval_seconds": eval_s, "global_batch": global_batch,
                "processes": world, "bf16": self.bf16, "eval": last_eval["metrics"] if last_eval else None,
                "eval_rewards": last_eval["rewards"] if last_eval else None, "model": self.model_info,
                "formatting": self.formatter.describe()}

    # ------------------------------------------------------------------ io
    def _log(self, record: dict) -> None:
        if self.acc.is_main_process:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _truncate_log(self, step: int) -> None:
        """On resume, drop log lines written after the checkpoint (they will be written again). A torn last line
        (the process was killed mid-write) is dropped; a broken line elsewhere is an error naming it."""
        if not self.log_path.is_file():
            return
        lines = [ln for ln in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        keep = []
        for i, ln in enumerate(lines):
            try:
                rec = json.loads(ln)
                rec_step = int(rec["step"])
            except (ValueError, KeyError, TypeError):
                if i == len(lines) - 1:
                    break  # torn by a kill during the write: it is re-written from the checkpoint
                raise InputError(f"{self.log_path}:{i + 1}: not a training-log record; delete the log (or the "
                                 f"whole output folder) to start over") from None
            if rec_step <= step:
                keep.append(ln)
        tmp = self.log_path.with_name(f".{self.log_path.name}.tmp")
        tmp.write_text("".join(ln + "\n" for ln in keep))
        os.replace(tmp, self.log_path)

    def _checkpoint(self, step: int, n_examples: int, total: int) -> None:
        acc = self.acc
        final = self.ckpt_dir / f"step-{step}"
        tmp = self.ckpt_dir / f".tmp-step-{step}"
        if acc.is_main_process and tmp.exists():
            shutil.rmtree(tmp)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))
        # accelerate pickles the RNG states (random_states_N.pkl); keep them as JSON instead, so that loading a
        # checkpoint never unpickles anything
        (tmp / f"random_states_{acc.process_index}.pkl").unlink(missing_ok=True)
        (tmp / f"rng_{acc.process_index}.json").write_text(json.dumps(rng_state()))
        acc.wait_for_everyone()
        if acc.is_main_process:
            (tmp / "scheduler.json").write_text(json.dumps(self._sched.state_dict()))
            (tmp / "trainer_state.json").write_text(json.dumps(
                {"step": step, "n_examples": n_examples, "total_steps": total, "seed": self.t.seed}))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            done = sorted((p for p in self.ckpt_dir.glob("step-*") if re.fullmatch(r"step-[0-9]+", p.name)),
                          key=lambda p: int(p.name.split("-")[1]))
            limit = self.t.save_total_limit  # None keeps all; the config loader refuses < 1
            if limit is not None:
                for old in done[: max(0, len(done) - max(1, int(limit)))]:
                    shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()

    def _load_checkpoint(self, folder: Path, sched) -> None:
        """Check the folder holds only plain state, then load it (tensors with weights_only=True, JSON)."""
        from accelerate.utils import DistributedType

        acc = self.acc
        sharded = acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
        check_checkpoint_folder(folder, sharded=sharded)
        for name in ("scheduler.json", f"rng_{acc.process_index}.json"):
            if not (folder / name).is_file():
                raise InputError(f"{folder}: checkpoint incomplete (no {name}); delete {folder.parent} to start over")
        try:
            acc.load_state(str(folder), load_kwargs={"weights_only": True})
        except (pickle.UnpicklingError, EOFError) as e:
            raise InputError(f"{folder}: checkpoint refused: not plain tensors ({str(e).splitlines()[0][:160]}); "
                             f"delete {folder.parent} to start over") from None
        except RuntimeError as e:
            if "weights_only" not in str(e) and "Unpickl" not in str(e):
                raise
            raise InputError(f"{folder}: checkpoint refused: not plain tensors; delete {folder.parent} "
                             f"to start over") from None
        load_scheduler_state(sched, folder / "scheduler.json")
        set_rng_state(_read_json_state(folder / f"rng_{acc.process_index}.json", "RNG state"),
                      folder / f"rng_{acc.process_index}.json")

    def _save_final(self, module) -> None:
        acc = self.acc
        acc.wait_for_everyone()
        inner = acc.unwrap_model(module)
        if self.peft_model is not None:
            merged = self.peft_model.merge_and_unload()
            state = {k: v.detach().cpu() for k, v in merged.state_dict().items()}
            hf = merged
        else:
            state = acc.get_state_dict(module)
            state = {k[len("model."):] if k.startswith("model.") else k: v for k, v in state.items()}
            hf = inner.model
        if acc.is_main_process:
            tmp = self.out_dir.with_name(f".{self.out_dir.name}.saving")
            if tmp.exists():
                shutil.rmtree(tmp)
            save_model(hf, self.tok, tmp, state_dict=state)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for f in tmp.iterdir():
                os.replace(f, self.out_dir / f.name)
            tmp.rmdir()
        acc.wait_for_everyone()


def train_reward_model(cfg, examples, heldout_pairs, heldout_ties, out_dir, work_dir, max_steps=None,
                       log_path=None) -> dict:
    """Train and save; returns a summary dict (see Trainer.train)."""
    return Trainer(cfg, out_dir, work_dir, max_steps=max_steps, log_path=log_path).train(
        examples, heldout_pairs, heldout_ties)
