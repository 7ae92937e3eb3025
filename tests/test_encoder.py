import numpy as np

from glta.text.encoder import TextEncoder


def test_minilm_embeds_offline_and_caches(tmp_path):
    encoder = TextEncoder(batch_size=2)
    texts = ["a science fiction film about robots", "a romantic comedy in Paris", "robots in space"]
    vectors = encoder.encode_cached(texts, cache_file=tmp_path / "e.npy")
    assert vectors.shape == (3, 384) and encoder.dim == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 2] > similarity[0, 1]  # the two robot texts are closer
    assert np.allclose(encoder.encode(texts[::-1])[::-1], vectors, atol=1e-5)  # order-independent batching
    (tmp_path / "e.npy").write_bytes((tmp_path / "e.npy").read_bytes())
    again = encoder.encode_cached(texts, cache_file=tmp_path / "e.npy")
    assert np.array_equal(again, vectors)
