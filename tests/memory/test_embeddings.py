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


def test_embed_many_cached_warms_the_lru_in_one_batch(monkeypatch, settings):
    settings.EMBEDDING_QUERY_CACHE_SIZE = 3
    calls: list[list[str]] = []
    real = embeddings.embed

    def counting(texts, **kw):
        calls.append(list(texts))
        return real(texts, **kw)

    monkeypatch.setattr(embeddings, "embed", counting)
    embeddings.embed_one("Ada loves sailing.")
    texts = ["Ada loves sailing.", "Ada works as a nurse.", "Ada has a dog named Biscuit.", "", "Ada works as a nurse."]
    embeddings.embed_many_cached(texts)
    # One encoder call for the two texts not cached yet (each once, the empty one skipped) ...
    assert calls == [["Ada loves sailing."], ["Ada works as a nurse.", "Ada has a dog named Biscuit."]]
    # ... and embed_one now finds them without running the encoder, with the same vectors.
    nurse = embeddings.embed_one("Ada works as a nurse.")
    assert len(calls) == 2 and not nurse.flags.writeable
    assert np.allclose(nurse, real(["Ada works as a nurse."])[0], atol=1e-5)
    # More texts than the LRU holds go in chunks of its size.
    embeddings.embed_many_cached([f"Fact number {i} about Ada." for i in range(7)])
    assert [len(c) for c in calls[2:]] == [3, 3, 1]
