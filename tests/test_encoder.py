import numpy as np
import pytest

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


def test_cached_embeddings_need_only_the_config_files(tmp_path, monkeypatch):
    """A machine without the model weights (e.g. a GPU box the cache was copied to) reads cached embeddings."""
    import shutil

    from glta.errors import GLTAError
    from glta.text.encoder import ENV_FOLDER, minilm_folder

    full = TextEncoder()
    texts = ["a quiet mystery novel", "a loud action film"]
    vectors = full.encode_cached(texts, cache_file=tmp_path / "e.npy")
    stand_in = tmp_path / "copy" / full.folder.name  # same folder name and config: same identity
    (stand_in / "1_Pooling").mkdir(parents=True)
    shutil.copy(full.folder / "config.json", stand_in / "config.json")
    shutil.copy(full.folder / "1_Pooling" / "config.json", stand_in / "1_Pooling" / "config.json")
    monkeypatch.setenv(ENV_FOLDER, str(stand_in))
    bare = TextEncoder()
    assert bare.identity == full.identity and bare.dim == full.dim
    assert bare.cache_file(texts) == full.cache_file(texts)
    assert np.array_equal(bare.encode_cached(texts, cache_file=tmp_path / "e.npy"), vectors)
    assert bare._model is None  # the cache hit loaded no weights
    monkeypatch.setenv(ENV_FOLDER, str(tmp_path / "nowhere"))
    with pytest.raises(GLTAError, match=ENV_FOLDER):
        minilm_folder()


def test_an_encoder_folder_with_pickled_weights_only_is_refused(tmp_path):
    """GLTA_TEXT_ENCODER may name any folder; its weights are read from safetensors only, never unpickled."""
    from glta.errors import GLTAError
    from glta.text.encoder import TextEncoder

    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 384}')
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"not opened")
    with pytest.raises(GLTAError, match="pickles only"):
        TextEncoder(tmp_path).encode(["a text"])
