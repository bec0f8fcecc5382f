"""The encoder wrapper: query LRU and the scoped torch thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from companion.memory import embeddings


@pytest.fixture(autouse=True)
def _empty_query_cache():
    embeddings.query_cache_clear()
    yield
    embeddings.query_cache_clear()


def test_embed_one_caches_by_text_and_returns_read_only_vectors(monkeypatch):
    calls: list[list[str]] = []
    real = embeddings.embed

    def counting(texts, **kw):
        calls.append(list(texts))
        return real(texts, **kw)

    monkeypatch.setattr(embeddings, "embed", counting)
    a = embeddings.embed_one("My name is Ada and I love sailing")
    b = embeddings.embed_one("My name is Ada and I love sailing")
    c = embeddings.embed_one("Something else entirely")
    assert calls == [["My name is Ada and I love sailing"], ["Something else entirely"]]
    assert a is b and a.shape == (embeddings.DIM,) and a.dtype == np.float32
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1.0
    assert np.allclose(a, real(["My name is Ada and I love sailing"])[0], atol=1e-6)
    assert not np.allclose(a, c)


def test_query_cache_is_bounded_lru(settings, monkeypatch):
    settings.EMBEDDING_QUERY_CACHE_SIZE = 2
    calls: list[str] = []
    monkeypatch.setattr(embeddings, "embed", lambda texts, **kw: (calls.extend(texts), np.ones((1, 3), np.float32))[1])
    embeddings.embed_one("a")
    embeddings.embed_one("b")
    embeddings.embed_one("a")  # hit; "b" is now the oldest
    embeddings.embed_one("c")  # evicts "b"
    embeddings.embed_one("a")  # still cached
    embeddings.embed_one("b")  # miss again
    assert calls == ["a", "b", "c", "b"]


def test_cache_off_always_encodes(settings, monkeypatch):
    settings.EMBEDDING_QUERY_CACHE_SIZE = 0
    calls: list[str] = []
    monkeypatch.setattr(embeddings, "embed", lambda texts, **kw: (calls.extend(texts), np.ones((1, 3), np.float32))[1])
    embeddings.embed_one("a")
    embeddings.embed_one("a")
    assert calls == ["a", "a"]


def test_encoder_thread_count_is_scoped_to_the_call(settings, monkeypatch):
    model = embeddings.get_model()
    seen: list[int] = []
    real_encode = model.encode

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(model, "encode", spy)
    before = torch.get_num_threads()
    other = 2 if before != 2 else 3
    settings.EMBEDDING_TORCH_THREADS = other
    embeddings.embed(["hello"])
    assert seen == [other]
    assert torch.get_num_threads() == before
    settings.EMBEDDING_TORCH_THREADS = 0  # leave torch alone
    embeddings.embed(["hello"])
    assert seen == [other, before]
