"""The one Hugging Face path shared by the scorer (``crome_audit.models``) and the trainer
(``crome_audit.train``): loading, batch collation, token-budget batching and reward pooling. Because both
sides call these functions, a model trained here is scored exactly as it was trained.

    from crome_audit.hf_common import collate, reward_forward, token_budget_batches, load_sequence_classifier
    tok, model, info = load_sequence_classifier("./my-rm", dtype=torch.bfloat16, device_map="auto",
                                                max_memory={0: "70GiB", 1: "70GiB"})
    for batch in token_budget_batches([len(e.input_ids) for e in encoded], max_batch_tokens=8192):
        ids, mask, types = collate([encoded[i] for i in batch], tok.pad_token_id, input_device(model))
        rewards = reward_forward(model, ids, mask, types)      # shape [batch], on the device of the logits

Rules (docs/formatting.md):
- right padding; the attention mask marks real tokens;
- scoring is batch-invariant by default (:func:`fixed_shape_rewards`): every forward that holds a text has a
  shape fixed by that text's length alone, so its reward does not depend on its batch mates, its row or
  --batch-size; training keeps plain dynamic padding (:func:`collate` without ``rows``/``width``);
- decoder heads (a ``score`` Linear: Llama, Qwen, Gemma, Mistral...) are pooled by us at the last real
  token (``mask.sum(1) - 1``), so the result is right when pad == eos and does not depend on the pad id or
  the batch; encoders (BERT ``classifier``) use the model's own pooler;
- with ``device_map`` (accelerate big-model loading: layers on several GPUs, CPU or disk), inputs go to
  the device of the input embeddings and the pooled index is moved to the device of the last hidden state,
  so pooling happens where the logits are.
"""

from __future__ import annotations

import json
import math

from .errors import InputError, ModelLoadError

DEVICE_MAP_CHOICES = ("auto", "balanced", "balanced_low_0", "sequential")


def uses_own_pooling(model) -> bool:
    """Decoder RM heads are a plain ``score`` Linear over every position: we pool the last real token."""
    import torch

    return isinstance(getattr(model, "score", None), torch.nn.Linear)


def collate(items, pad_id: int, device=None, rows: int | None = None, width: int | None = None):
    """Right-padded ``(input_ids, attention_mask, token_type_ids or None)`` tensors for encoded items
    (anything with ``input_ids`` and ``token_type_ids`` lists). ``width`` pads every row to that many tokens
    (default: the longest item); ``rows`` adds copies of the first item up to that many rows (their outputs
    are the caller's to drop): a fixed-shape forward (:func:`fixed_shape_forwards`)."""
    import torch

    longest = max(len(e.input_ids) for e in items)
    width = width or longest
    rows = rows or len(items)
    if width < longest or rows < len(items):
        raise ValueError(f"collate: {len(items)} items up to {longest} tokens do not fit ({rows}, {width})")
    items = list(items) + [items[0]] * (rows - len(items))
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    types = torch.zeros((rows, width), dtype=torch.long) if getattr(items[0], "token_type_ids", None) else None
    for row, e in enumerate(items):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        if types is not None:
            types[row, :n] = torch.tensor(e.token_type_ids)
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
        types = types.to(device) if types is not None else None
    return ids, mask, types


# Batch-invariant scoring. Float kernels (GEMM blocking, attention) reduce in an order chosen from the shape of
# the tensors they run on, so a text's reward is bit-identical across batchings only if every forward holding
# it has the same shape. The rule: a text of n tokens is padded to its bucket width W = bucket_width(n) and
# scored in a forward of exactly forward_rows(W) rows (missing rows are copies of the forward's first text,
# their outputs dropped), with rows x W a multiple of 512 so that no row lands in a GEMM tail block. Texts exactly W tokens long get forwards of their own: transformers drops the
# attention mask of a batch with no padding at all (another SDPA kernel), so whether a forward has padding must
# depend on the text alone too. Measured in benchmarks/bench_batch_invariance.py (benchmarks/RESULTS.md).
SHAPE_RULE = "fixed-shape-v1"  # part of the HF adapter's cache fingerprint: bump when the rule below changes
ROW_BLOCK = 512  # rows x width is a multiple of this (see forward_rows)
MAX_FORWARD_ROWS = 32  # more rows: more filler rows in each width's last forward (measured: 64 cost 1.5-1.8x)


def bucket_width(n: int, max_width: int | None = None) -> int:
    """The padded width of a text of ``n`` tokens: the next multiple of 16 up to 128 tokens, then of 1/8 of the
    next power of two (at most 25% padding beyond 128), capped at ``max_width`` (the max length, so position
    embeddings never run out)."""
    step = max(16, (1 << max(n - 1, 1).bit_length()) // 8)
    width = -(-n // step) * step
    return min(width, max_width) if max_width else width


def forward_rows(width: int, shape_tokens: int) -> int:
    """Rows of every forward at ``width``: as many as ``shape_tokens`` padded tokens hold (1 to 32), rounded to a
    multiple of ``ROW_BLOCK // gcd(width, ROW_BLOCK)`` (rounded up when fewer) so that rows x width, the M of the
    model's matrix products, is a multiple of ROW_BLOCK: otherwise the last rows of a forward fall into the
    GEMM's tail block, another kernel, and a text's reward depended on its row (measured: M = 480)."""
    unit = min(MAX_FORWARD_ROWS, ROW_BLOCK // math.gcd(width, ROW_BLOCK))  # < ROW_BLOCK only for a width not
    # a multiple of 16: a max length that is not (texts cut at it); the guarantee is then not proven
    return max(1, min(MAX_FORWARD_ROWS, shape_tokens // width) // unit) * unit


def fixed_shape_forwards(lengths: list[int], shape_tokens: int, max_width: int | None = None):
    """``[(indices, rows, width)]``: indices into ``lengths`` grouped into forwards of shape ``(rows, width)``,
    widest first; a forward holds at most ``rows`` texts (the caller pads it to ``rows``). The shape of a
    text's forward depends on its own length (and the two settings) only."""
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, n in enumerate(lengths):
        width = bucket_width(n, max_width)
        groups.setdefault((width, n == width), []).append(i)
    out = []
    for (width, _full), idx in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        rows = forward_rows(width, shape_tokens)
        out += [(idx[s:s + rows], rows, width) for s in range(0, len(idx), rows)]
    return out


def fixed_shape_rewards(model, items, pad_id: int, shape_tokens: int, max_width: int | None = None,
                        own_pooling: bool | None = None) -> list[float]:
    """One reward per item (floats), every forward in its fixed shape (:func:`fixed_shape_forwards`): a text's
    reward is the same whatever else is in ``items`` and wherever it stands."""
    out = [0.0] * len(items)
    device = input_device(model)
    for idx, rows, width in fixed_shape_forwards([len(e.input_ids) for e in items], shape_tokens, max_width):
        ids, mask, types = collate([items[i] for i in idx], pad_id, device, rows=rows, width=width)
        rewards = reward_forward(model, ids, mask, types, own_pooling)[:len(idx)].float().cpu().tolist()
        for i, r in zip(idx, rewards):
            out[i] = r
    return out


def token_budget_batches(lengths: list[int], max_batch_tokens: int, batch_size: int | None = None) -> list[list[int]]:
    """Indices grouped into batches, longest first, so that ``longest x count <= max_batch_tokens`` (dynamic
    padding) and, when given, ``count <= batch_size``. A text longer than the budget is a batch alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, cur, cur_max = [], [], 0
    for i in order:
        n = lengths[i]
        new_max = max(cur_max, n)
        too_many = batch_size is not None and len(cur) >= batch_size
        if cur and (new_max * (len(cur) + 1) > max_batch_tokens or too_many):
            batches.append(cur)
            cur, new_max = [], n
        cur.append(i)
        cur_max = new_max
    if cur:
        batches.append(cur)
    return batches


def plan_unique_batches(encoded, max_batch_tokens: int, batch_size: int | None = None,
                        fixed_shape: tuple[int, int | None] | None = None):
    """``(batches, rep)``: texts that tokenize to the same ids share one representative (``rep[i]``), so true
    ties come out exactly equal; the representatives are grouped by :func:`token_budget_batches`, or with
    ``fixed_shape=(shape_tokens, max_width)`` one batch per fixed-shape forward (:func:`fixed_shape_forwards`;
    ``max_batch_tokens`` and ``batch_size`` are then unused). Batches hold indices into ``encoded``."""
    first: dict[tuple, int] = {}
    rep = [first.setdefault((tuple(e.input_ids), tuple(getattr(e, "token_type_ids", None) or ()),
                             getattr(e, "n_response", None)), i)  # DPO: same ids, other response span
           for i, e in enumerate(encoded)]
    uniq = list(first.values())
    lengths = [len(encoded[i].input_ids) for i in uniq]
    if fixed_shape is not None:
        batches = [idx for idx, _, _ in fixed_shape_forwards(lengths, *fixed_shape)]
    else:
        batches = token_budget_batches(lengths, max_batch_tokens, batch_size)
    return [[uniq[j] for j in b] for b in batches], rep


def score_planned(rm, encoded) -> list[float]:
    """``score_encoded`` for adapters with ``plan_batches(encoded) -> (batches, rep)`` and ``score_batch(items)``:
    one call per planned batch. The data-parallel engine runs the same plan, a share of the batches per process,
    so N processes compute exactly the batches one process would (bitwise-equal rewards)."""
    batches, rep = rm.plan_batches(encoded)
    scores: dict[int, float] = {}
    for batch in batches:
        for i, r in zip(batch, rm.score_batch([encoded[i] for i in batch])):
            scores[i] = r
    return [scores[rep[i]] for i in range(len(encoded))]


def _module_device(module):
    """The device a module's weights live on (None for meta / offloaded weights: accelerate's hooks move)."""
    for p in module.parameters():
        return None if p.device.type == "meta" else p.device
    return None


def input_device(model):
    """Where input ids must go: the device of the input embeddings (differs from ``model.device`` when a
    ``device_map`` spreads layers)."""
    import torch

    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    dev = _module_device(emb) if emb is not None else None
    if dev is None and getattr(model, "hf_device_map", None):
        # offloaded embeddings: accelerate's hook runs them on its execution device and moves inputs there
        hook = getattr(emb, "_hf_hook", None)
        dev = getattr(hook, "execution_device", None)
        return torch.device(dev) if dev is not None else torch.device("cpu")
    return dev or getattr(model, "device", torch.device("cpu"))


def reward_forward(model, input_ids, attention_mask, token_type_ids=None, own_pooling: bool | None = None):
    """One reward per row (shape ``[batch]``, model dtype, on the device of the logits). ``own_pooling``: decided
    once at load time by the caller (after LoRA wraps the head it is no longer a plain Linear), else now."""
    import torch

    if own_pooling if own_pooling is not None else uses_own_pooling(model):
        base = getattr(model, model.base_model_prefix)
        hidden = base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # with a device_map the last hidden state may sit on another GPU than the inputs: index it there
        last = (attention_mask.sum(dim=1) - 1).to(hidden.device)
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        head_dev = _module_device(model.score)
        if head_dev is not None and head_dev != pooled.device:
            pooled = pooled.to(head_dev)
        return model.score(pooled)[:, 0]
    kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
    return model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).logits[:, 0]


def parse_max_memory(value) -> dict | None:
    """``max_memory`` as accelerate wants it: ``{0: "70GiB", 1: "70GiB", "cpu": "200GiB"}``. Accepts that
    dict, a JSON object string, or ``0=70GiB,1=70GiB,cpu=200GiB`` (the --rm-arg form)."""
    if value is None or value == "" or isinstance(value, dict) and not value:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError as e:
                raise InputError(f"max_memory: not a JSON object: {e}") from None
        else:
            value = {}
            for part in filter(None, (p.strip() for p in text.split(","))):
                dev, sep, amount = part.partition("=")
                if not sep or not amount.strip():
                    raise InputError(f"max_memory: expected DEVICE=AMOUNT[,DEVICE=AMOUNT...] (e.g. 0=70GiB,"
                                     f"cpu=200GiB), got '{part}'")
                value[dev.strip()] = amount.strip()
    if not isinstance(value, dict):
        raise InputError(f"max_memory: expected a mapping of device -> amount, got {type(value).__name__}")
    out = {}
    for dev, amount in value.items():
        key = int(dev) if isinstance(dev, int) or str(dev).isdigit() else str(dev)
        if isinstance(key, str) and key not in ("cpu", "disk", "mps") and not key.startswith(("cuda", "xpu", "npu")):
            raise InputError(f"max_memory: unknown device '{dev}' (use GPU indices 0, 1, ..., 'cpu' or 'disk')")
        out[key] = amount
    return out


def placement_kwargs(device_map=None, max_memory=None, offload_folder=None) -> dict:
    """``from_pretrained`` keyword arguments for accelerate's big-model loading (empty without device_map)."""
    if device_map in (None, "", "none"):
        if max_memory:
            raise InputError("max_memory needs device_map (e.g. --rm-arg device_map=auto)")
        return {}
    if isinstance(device_map, str) and device_map not in DEVICE_MAP_CHOICES and not device_map.startswith("{"):
        from .registry import suggest

        raise InputError(f"device_map: unknown '{device_map}'{suggest(device_map, DEVICE_MAP_CHOICES)} "
                         "(or a JSON object module -> device)")
    if isinstance(device_map, str) and device_map.startswith("{"):
        try:
            device_map = json.loads(device_map)
        except ValueError as e:
            raise InputError(f"device_map: not a JSON object: {e}") from None
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise InputError("device_map needs the 'accelerate' package (pip install accelerate)") from None
    kwargs = {"device_map": device_map}
    mm = parse_max_memory(max_memory)
    if mm:
        kwargs["max_memory"] = mm
    if offload_folder:
        kwargs["offload_folder"] = str(offload_folder)
    return kwargs


# transformers sets model_max_length to int(1e30) when a tokenizer records no limit: any value this large is none
UNSET_TOKENIZER_LENGTH = 10**8
FALLBACK_MAX_LENGTH = 512  # only for a model that records no context length at all (the count is printed)
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")


def model_context_length(tokenizer, config) -> int | None:
    """The longest text the model reads, from the model itself, by vLLM's rule for served reward models (so served
    and in-process scores cut texts at the same length by default): the config's ``max_position_embeddings`` (or
    ``n_positions``...); for a model with learned absolute positions (BERT, RoBERTa, GPT-2: no RoPE parameters)
    capped by the tokenizer's ``model_max_length`` (RoBERTa reads 512 tokens with 514 positions); the tokenizer's
    length alone when the config names none. A tokenizer length is ignored when it is transformers' 1e30 "no
    limit" sentinel. A RoPE model's tokenizer length is not a cap: it is often one borrowed from another model or a
    training length, and vLLM serves such a model at its config's length (measured: a tokenizer saying 512 over
    1,024 positions, served at 1,024). RoPE scaling factors are not applied. None when nothing is known."""
    tok_len = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_len, bool) or not isinstance(tok_len, int) or not 0 < tok_len < UNSET_TOKENIZER_LENGTH:
        tok_len = None
    config = getattr(config, "get_text_config", lambda: config)() if config is not None else None
    positions = next((v for v in (getattr(config, key, None) for key in CONTEXT_KEYS)
                      if isinstance(v, int) and not isinstance(v, bool) and v > 0), None)
    if positions is None:
        return tok_len
    rope = any(getattr(config, key, None) is not None for key in ("rope_parameters", "rope_scaling", "rope_theta"))
    return positions if rope or tok_len is None else min(positions, tok_len)


def default_max_length(tokenizer, config, recorded: int | None = None) -> tuple[int, str]:
    """``(max_length, source)`` when --max-length is not given: what a crome-audit-trained model recorded
    ("trained"), else the model's context (:func:`model_context_length`, "model"), else 512 ("fallback")."""
    if recorded:
        return int(recorded), "trained"
    context = model_context_length(tokenizer, config)
    if context is not None:
        return context, "model"
    return FALLBACK_MAX_LENGTH, "fallback"


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _num_labels(path: str, kwargs: dict) -> int | None:
    """The checkpoint's own number of classifier outputs (None when its config cannot be read here)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, **kwargs)
    except Exception:  # the loader below reports an unreadable model in its own words
        return None
    # only a saved classifier's label count is its own; a base model's config carries the library default (2)
    if not any(str(a).endswith("ForSequenceClassification") for a in getattr(config, "architectures", None) or ()):
        return None
    return getattr(config, "num_labels", None)


def load_sequence_classifier(path: str, *, what: str, dtype=None, trust_remote_code: bool = False,
                             gguf_file: str | None = None, fresh_head_ok: bool = False, **placement):
    """``(tokenizer, model, loading_info)`` for a one-output sequence-classification model.

    ``what`` names the source in error messages (``--rm X``, ``model.base_model X``). ``placement`` is
    :func:`placement_kwargs`'s output (device_map / max_memory / offload_folder). ``fresh_head_ok`` is the
    trainer's case (a base model gets a new head); the scorer refuses it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kwargs = {"trust_remote_code": trust_remote_code}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    extra = {"dtype": dtype} if dtype is not None else {}
    if fresh_head_ok:
        extra["ignore_mismatched_sizes"] = True
    if not fresh_head_ok:  # a 3-label classifier would fail deep in transformers with a weight-size report
        labels = _num_labels(path, kwargs)
        if labels is not None and labels != 1:
            raise ModelLoadError(f"{what}: the model has {labels} outputs, not a reward model (a reward model has "
                                 "one output: num_labels=1)")
    try:
        tok = AutoTokenizer.from_pretrained(path, **kwargs)
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, output_loading_info=True, **extra, **placement, **kwargs)
    except Exception as e:
        raise ModelLoadError(f"{what}: cannot load as a sequence-classification model: {first_line(e)}") from None
    return tok, model, info


def placement_info(model) -> dict:
    """Where the layers went (for rm.info()): the devices of accelerate's device map, else the one device."""
    dmap = getattr(model, "hf_device_map", None)
    if dmap:
        return {"device_map": True, "devices": sorted({str(d) for d in dmap.values()}),
                "n_modules_placed": len(dmap)}
    dev = _module_device(model)
    return {"device_map": False, "devices": [str(dev) if dev is not None else "meta"]}
