"""RM adapters: raw logits, pooling when pad == eos, formatting, truncation, batch-size invariance."""

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from crome_audit.errors import InputError, ModelLoadError
from crome_audit.models import LengthRM, load_reward_model

PROMPTS = ["What is the capital of France?", "Write a haiku about rain.", "2+2?", "Explain gravity in detail."]
RESPONSES = ["Paris.", "Rain taps on the roof\nsoft drums in the quiet night\nthe earth drinks and sleeps",
             "4", "Gravity is the attraction between masses. " * 12]


def test_length_rm():
    assert LengthRM().score(["p", "p"], ["one two three.", ""]) == [4.0, 0.0]


def test_py_rm(tmp_path):
    mod = tmp_path / "myrm.py"
    mod.write_text("def f(prompts, responses):\n    return [len(r) * 0.5 for r in responses]\n"
                   "def bad(prompts, responses):\n    return [1.0]\n")
    rm = load_reward_model(f"py:{mod}:f")
    assert rm.score(["a", "b"], ["xx", "xxxx"]) == [1.0, 2.0]
    assert rm.fingerprint.startswith("py-")
    with pytest.raises(InputError, match="returned 1 rewards for 2 responses"):
        load_reward_model(f"py:{mod}:bad").score(["a", "b"], ["x", "y"])
    with pytest.raises(InputError, match="has no callable 'nope'"):
        load_reward_model(f"py:{mod}:nope")
    with pytest.raises(InputError, match="expected py:"):
        load_reward_model("py:nofunction")


def _direct_scores(path, texts_or_pairs, pair_mode):
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    model.config.pad_token_id = None  # batch of 1, no padding: HF then pools the very last token
    out = []
    with torch.inference_mode():
        for p, r in texts_or_pairs:
            if pair_mode:
                enc = tok(p, r, return_tensors="pt")
            else:
                text = tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                               tokenize=False)
                enc = tok(text, return_tensors="pt", add_special_tokens=False)
            out.append(model(**enc).logits[0, 0].item())  # batch of 1: no padding, nothing to pool wrongly
    return out


def test_encoder_rm_raw_logits_and_batch_invariance(tiny_encoder_rm):
    rm = load_reward_model(tiny_encoder_rm, batch_size=1)
    expected = _direct_scores(tiny_encoder_rm, list(zip(PROMPTS, RESPONSES)), pair_mode=True)
    assert rm.score(PROMPTS, RESPONSES) == pytest.approx(expected, abs=1e-5)
    assert rm.info()["formatting"]["mode"] == "text_pair"
    big = load_reward_model(tiny_encoder_rm, batch_size=64)
    assert big.score(PROMPTS, RESPONSES) == pytest.approx(expected, abs=1e-5)


def test_decoder_rm_pad_equals_eos(tiny_decoder_rm):
    tok = AutoTokenizer.from_pretrained(tiny_decoder_rm)
    assert tok.pad_token_id == tok.eos_token_id  # the hard case
    rm = load_reward_model(tiny_decoder_rm, batch_size=64)
    assert rm.info()["formatting"]["mode"] == "chat_template" and rm.info()["own_last_token_pooling"]
    expected = _direct_scores(tiny_decoder_rm, list(zip(PROMPTS, RESPONSES)), pair_mode=False)
    got = rm.score(PROMPTS, RESPONSES)
    assert got == pytest.approx(expected, abs=1e-5)
    # the stock HF pooling picks the token before the trailing eos when pad == eos: it differs
    model = AutoModelForSequenceClassification.from_pretrained(tiny_decoder_rm).eval()
    text = tok.apply_chat_template([{"role": "user", "content": PROMPTS[0]},
                                    {"role": "assistant", "content": RESPONSES[0]}], tokenize=False)
    enc = tok([text, text + " padding to make it longer"], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        stock = model(**enc).logits[0, 0].item()
    assert abs(stock - got[0]) > 1e-6


def test_truncation_policy(tiny_encoder_rm):
    long = "word " * 300
    left = load_reward_model(tiny_encoder_rm, max_length=32, truncation="left")
    right = load_reward_model(tiny_encoder_rm, max_length=32, truncation="right")
    enc_l = left.encode(["short prompt"], [long + "THE END"])[0]
    enc_r = right.encode(["short prompt"], [long + "THE END"])[0]
    assert len(enc_l.input_ids) == 32 and len(enc_r.input_ids) == 32 and enc_l.truncated
    tok = left.tokenizer
    assert "end" in tok.decode(enc_l.input_ids) and "end" not in tok.decode(enc_r.input_ids)
    left.score(["p", "p"], [long, "short"])
    assert left.info()["n_truncated"] == 2  # one from encode above, one from score


def test_template_override_changes_fingerprint(tiny_decoder_rm):
    a = load_reward_model(tiny_decoder_rm)
    b = load_reward_model(tiny_decoder_rm, template="Q: {prompt}\nA: {response}")
    assert a.fingerprint != b.fingerprint
    assert b.info()["formatting"]["mode"] == "template"
    with pytest.raises(InputError, match="template must contain"):
        load_reward_model(tiny_decoder_rm, template="no placeholders")


def test_bad_model_specs(tmp_path):
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_reward_model("./does/not/exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load_reward_model(str(tmp_path / "empty"))


def test_remote_code_stays_off(tiny_encoder_rm, tmp_path):
    """A folder shipping custom code: its code never runs unless trust_remote_code is asked for."""
    import json
    import shutil

    folder = tmp_path / "remote"
    shutil.copytree(tiny_encoder_rm, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForSequenceClassification": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(cfg))
    marker = tmp_path / "ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nraise ImportError('remote code ran')\n")
    rm = load_reward_model(str(folder))
    assert type(rm.model).__name__ == "BertForSequenceClassification" and not marker.exists()
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_reward_model(str(folder), trust_remote_code=True)
    assert marker.exists()


def test_base_model_without_reward_head_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    from tests.tiny_models import local_tokenizer

    tok = local_tokenizer()
    BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    with pytest.raises(ModelLoadError, match="no reward head"):
        load_reward_model(str(tmp_path / "base"))


def test_template_mode_truncation_keeps_special_tokens(tiny_encoder_rm):
    rm = load_reward_model(tiny_encoder_rm, max_length=16, template="Q: {prompt}\nA: {response}")
    tok = rm.tokenizer
    for enc in rm.encode(["a long question " * 10, "short"], ["an answer " * 20, "ok"]):
        assert enc.input_ids[0] == tok.cls_token_id and enc.input_ids[-1] == tok.sep_token_id
        assert len(enc.input_ids) <= 16


def test_identical_token_ids_score_exactly_equal(tiny_decoder_rm):
    rm = load_reward_model(tiny_decoder_rm)
    # different texts, same tokens after lowercasing WordPiece: one forward, equal rewards
    a, b = rm.score(["Hello there", "hello there"], ["Fine, THANKS", "fine, thanks"])
    assert a == b


def test_trained_model_is_scored_with_its_recorded_formatting(tiny_encoder_rm, tmp_path):
    import json
    import shutil

    folder = tmp_path / "trained"
    shutil.copytree(tiny_encoder_rm, folder)
    (folder / "crome_training.json").write_text(json.dumps({"formatting": {"max_length": 40, "truncation": "right"}}))
    rm = load_reward_model(str(folder))
    assert (rm.formatter.max_length, rm.formatter.truncation) == (40, "right")
    assert load_reward_model(str(folder), max_length=64).formatter.max_length == 64
    assert load_reward_model(tiny_encoder_rm).formatter.max_length == 512
