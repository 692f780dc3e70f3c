"""Shared fixtures. Tests never touch the network: the hub is switched off here."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.tiny_models import build_tiny_decoder_rm, build_tiny_encoder_rm  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own score cache, so no test sees another's scores."""
    monkeypatch.setenv("CROME_AUDIT_CACHE", str(tmp_path / "cache" / "scores.sqlite"))


@pytest.fixture(scope="session")
def tiny_encoder_rm(tmp_path_factory):
    return build_tiny_encoder_rm(tmp_path_factory.mktemp("tiny-encoder"))


@pytest.fixture(scope="session")
def tiny_decoder_rm(tmp_path_factory):
    return build_tiny_decoder_rm(tmp_path_factory.mktemp("tiny-decoder"))


@pytest.fixture(scope="session")
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} not present")
    return SHARED_DATA
