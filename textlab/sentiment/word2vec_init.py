"""``--pretrained-w2v``: initialise the word embedding from a textlab word2vec model
(store kind ``word2vec``: ``vocab.tsv`` without specials, ``weights.safetensors`` holding
``vectors`` [V, dim] float32). Read directly so that sentiment does not depend on textlab.w2v."""

from __future__ import annotations

import torch

from textlab.errors import DataError
from textlab.store.cards import VOCAB_FILE
from textlab.store.choice import resolve_model
from textlab.store.files import load_tensors, tensor_shapes
from textlab.text import Vocab


def word2vec_dim(spec: str) -> int:
    path = resolve_model(spec, "word2vec")
    shapes = tensor_shapes(path)
    if "vectors" not in shapes or len(shapes["vectors"]) != 2:
        raise DataError(f"{path}: a word2vec model needs a 2-D tensor 'vectors'")
    return int(shapes["vectors"][1])


@torch.no_grad()
def init_embedding(embedding: torch.nn.Embedding, vocab: Vocab, spec: str) -> dict:
    """Copy the vectors of words found in both vocabularies; returns what was done. Works on
    whichever device the embedding lives on (the vectors are read on the CPU and moved there)."""
    path = resolve_model(spec, "word2vec")
    w2v_vocab = Vocab.load(path / VOCAB_FILE)
    shapes = tensor_shapes(path)
    rows, dim = shapes.get("vectors", (0, 0))
    if rows != len(w2v_vocab):
        raise DataError(f"{path}: 'vectors' has {rows} rows but vocab.tsv lists {len(w2v_vocab)} words")
    if dim != embedding.embedding_dim:
        raise DataError(f"{path}: vectors have dimension {dim}, the embedding {embedding.embedding_dim}")
    vectors = load_tensors(path, {name: shape for name, shape in shapes.items()})["vectors"].float()
    ours, theirs = [], []
    for idx, word in enumerate(vocab.words):
        found = w2v_vocab.index.get(word)
        if found is not None and idx > 0:  # keep <pad> at zero
            ours.append(idx)
            theirs.append(found)
    if ours:
        device = embedding.weight.device
        chosen = vectors[torch.tensor(theirs)].to(device)
        # match the scale of the random init so that the two kinds of rows mix well
        scale = embedding.weight.std() / chosen.std().clamp_min(1e-8)
        embedding.weight[torch.tensor(ours, device=device)] = (chosen * scale).to(embedding.weight.dtype)
    return {"model": str(path), "covered": len(ours), "dim": dim}
