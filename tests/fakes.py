"""Tiny stand-ins for the models shipped in ``textlab/pretrained`` (``word2vec/en``,
``word2vec/zh``, ``charlm/shakespeare``), built in a temporary directory in the same format
as real models, and a tiny font with glyphs for a few Chinese characters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

#: English words; king - man + woman = queen is planted along a "gender" direction.
EN_PAIRS = [("king", "queen"), ("man", "woman"), ("boy", "girl"), ("prince", "princess"), ("father", "mother")]
EN_OTHER = ["the", "movie", "film", "good", "bad", "sea", "land", "castle", "sword", "horse"]
ZH_PAIRS = [("国王", "王后"), ("男人", "女人"), ("男孩", "女孩"), ("王子", "公主"), ("父亲", "母亲")]
ZH_OTHER = ["的", "电影", "好", "大海", "城堡"]
SHAKESPEARE_ALPHABET = list(" \netaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ.,;:!?'-")


def planted_vectors(pairs: list[tuple[str, str]], others: list[str], dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    gender = rng.normal(size=dim) * 2
    words, rows = [], []
    for male, female in pairs:
        base = rng.normal(size=dim)
        words += [male, female]
        rows += [base, base + gender]
    for word in others:
        words.append(word)
        rows.append(rng.normal(size=dim))
    return words, np.array(rows, dtype=np.float32)


def save_word_model(path: Path, words: list[str], vectors: np.ndarray, lang: str, **card) -> Path:
    """A word2vec model directory as ``train-w2v`` writes one."""
    from textlab.store.cards import ModelCard
    from textlab.store.files import save_model
    from textlab.text import Vocab
    from textlab.w2v.model import Word2VecConfig

    config = Word2VecConfig(dim=vectors.shape[1], vocab_size=len(words), lang=lang, min_count=1)
    counts = np.arange(len(words), 0, -1, dtype=np.int64)
    tensors = {"vectors": torch.from_numpy(vectors), "context": torch.zeros_like(torch.from_numpy(vectors))}
    model_card = ModelCard(kind="word2vec", config=dataclasses.asdict(config), data={"vocab_size": len(words)}, **card)
    return save_model(path, model_card, tensors, vocab_tsv=Vocab(words, counts).to_tsv())


def save_char_model(path: Path, alphabet: list[str], seed: int = 0) -> Path:
    """An untrained, tiny char LM directory as ``train-charlm`` writes one."""
    from textlab.charlm.model import CharLM, CharLMConfig
    from textlab.charlm.saving import save_charlm

    torch.manual_seed(seed)
    model = CharLM(CharLMConfig(vocab_size=len(alphabet), embed_dim=8, hidden=8, layers=1, dropout=0.0))
    return save_charlm(path, model, alphabet, {"corpus": path.name}, {"val_loss": 1.5, "val_bpc": 2.16},
                       {"history": []})


def build_shipped(root: Path, kinds: tuple[str, ...] = ("word2vec", "charlm")) -> Path:
    if "word2vec" in kinds:
        save_word_model(root / "word2vec" / "en", *planted_vectors(EN_PAIRS, EN_OTHER), lang="en")
        save_word_model(root / "word2vec" / "zh", *planted_vectors(ZH_PAIRS, ZH_OTHER, seed=1), lang="zh")
    if "charlm" in kinds:
        save_char_model(root / "charlm" / "shakespeare", SHAKESPEARE_ALPHABET)
    return root


@pytest.fixture
def fake_shipped(tmp_path_factory, monkeypatch) -> Path:
    """``textlab/pretrained`` replaced by a directory holding tiny ``word2vec/en``,
    ``word2vec/zh`` and ``charlm/shakespeare`` models."""
    import textlab.store.shipped

    root = build_shipped(tmp_path_factory.mktemp("pretrained"))
    monkeypatch.setattr(textlab.store.shipped, "shipped_root", lambda: root)
    return root


@pytest.fixture
def nothing_shipped(tmp_path_factory, monkeypatch) -> Path:
    import textlab.store.shipped

    root = tmp_path_factory.mktemp("empty-pretrained")
    monkeypatch.setattr(textlab.store.shipped, "shipped_root", lambda: root)
    return root


def make_font(path: Path, chars: str, family: str = "Textlab Test Han") -> Path:
    """A TrueType font whose only glyphs (squares) are ``chars``."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = {ord(c): f"uni{ord(c):04X}" for c in dict.fromkeys(chars)}
    order = [".notdef", *names.values()]

    def square():
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        pen.lineTo((100, 700))
        pen.lineTo((800, 700))
        pen.lineTo((800, 0))
        pen.closePath()
        return pen.glyph()

    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(names)
    builder.setupGlyf({name: square() for name in order})
    builder.setupHorizontalMetrics({name: (1000, 100) for name in order})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))
    return path
