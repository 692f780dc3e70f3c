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
- checkpoints (``accelerator.save_state``: model, optimizer, scheduler, RNG states; plus the step = data
  position) every ``save_steps``; a re-run resumes from the newest complete checkpoint;
- periodic eval (held-out accuracy, tie-consistency, length/formatting effect sizes) into the JSONL log;
- a non-finite loss stops the run with a clear message (nothing half-written).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
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
    done = [p for p in ckpt_dir.glob("step-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


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
        # the scheduler is not prepared: accelerate would step it once per process (it assumes sharded
        # dataloaders); every process here walks all global steps. It is checkpointed via registration.
        ds = getattr(acc.state, "deepspeed_plugin", None)
        if ds is not None:  # no dataloader is prepared, so DeepSpeed needs the micro-batch size spelled out
            ds.deepspeed_config["train_micro_batch_size_per_gpu"] = t.batch_size
        module, opt = acc.prepare(module, opt)
        acc.register_for_checkpointing(sched)
        evalset = EvalSet.build(heldout_pairs, heldout_ties, t.eval_max_pairs)

        step = 0
        latest = _latest_checkpoint(self.ckpt_dir)
        if latest is not None:
            state = json.loads((latest / "trainer_state.json").read_text())
            if state.get("n_examples") != len(examples) or state.get("total_steps") != total:
                raise InputError(f"{latest}: checkpoint was made for {state.get('n_examples')} pairs / "
                                 f"{state.get('total_steps')} steps, this run has {len(examples)} / {total}; "
                                 f"delete {self.ckpt_dir} to start over")
            acc.load_state(str(latest))
            step = state["step"]
            resumed = True
        else:
            resumed = False
        if acc.is_main_process:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._truncate_log(step)
            if resumed:
                self._log({"step": step, "resumed_from": str(latest)})
        bar = tqdm(total=total, initial=step, desc=f"train ({self.cfg.method})", unit="step",
                   disable=not (t.progress and acc.is_main_process))
        plan_cache: dict[int, list[list[int]]] = {}
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
        return {"steps": total, "final_loss": last_loss, "seconds": elapsed, "pairs_trained": pairs_done,
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
        """On resume, drop log lines written after the checkpoint (they will be written again)."""
        if not self.log_path.is_file():
            return
        keep = [ln for ln in self.log_path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
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
        acc.wait_for_everyone()
        if acc.is_main_process:
            (tmp / "trainer_state.json").write_text(json.dumps(
                {"step": step, "n_examples": n_examples, "total_steps": total, "seed": self.t.seed}))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            done = sorted((p for p in self.ckpt_dir.glob("step-*")), key=lambda p: int(p.name.split("-")[1]))
            for old in done[: max(0, len(done) - self.t.save_total_limit)]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()

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
