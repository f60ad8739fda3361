"""Stage 1 of training: read the train split, hold out the validation part (or read
``--valid-data``), tokenize, build the vocabulary on the training part, encode both parts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from textlab.data.reviews import ReadStats, iter_reviews
from textlab.errors import DataError, UsageError
from textlab.runtime.output import say
from textlab.sentiment.config import SPECIALS, SentimentConfig, TrainSettings
from textlab.sentiment.data import EncodedReviews, build_vocab, encode_reviews, tokenize_texts
from textlab.sentiment.initialise import embedding_dim
from textlab.sentiment.saved import make_encoder
from textlab.sentiment.short_inputs import sentence_views, train_sentences
from textlab.text import Vocab, guess_lang

if TYPE_CHECKING:
    from textlab.sentiment.lm_init import SavedLM


def read_labelled(dataset: str, split: str = "train") -> tuple[list[str], list[int], ReadStats]:
    stats = ReadStats()
    texts, labels = [], []
    for text, label in iter_reviews(dataset, split, stats):
        texts.append(text)
        labels.append(label)
    if stats.warning():
        say(stats.warning(), style="yellow")
    return texts, labels, stats


def split_indices(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < valid_fraction < 1.0:
        raise UsageError("--valid-fraction must be between 0 and 1 (exclusive)")
    if n < 2:
        raise DataError(f"need at least 2 labelled reviews to train, found {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_valid = min(n - 1, max(1, round(n * valid_fraction)))
    return order[n_valid:], order[:n_valid]



def append_validation(texts: list[str], labels: list[int], valid_data: str) -> tuple[np.ndarray, np.ndarray]:
    """Append the reviews of ``valid_data`` (read like DATASET) to ``texts``/``labels``; returns
    (train indices, validation indices)."""
    valid_texts, valid_labels, _ = read_labelled(valid_data, "train")
    if not valid_texts:
        raise DataError(f"{valid_data}: no labelled reviews to validate on")
    if len(set(valid_labels)) < 2:
        raise DataError(f"{valid_data}: the validation set needs both positive and negative reviews")
    if not texts:
        raise DataError("no labelled reviews to train on")
    n = len(texts)
    texts.extend(valid_texts)
    labels.extend(valid_labels)
    return np.arange(n), np.arange(n, len(texts))


@dataclass
class Prepared:
    """What the training stages work on."""

    config: SentimentConfig  # resolved: language and n-gram units settled, vocabulary size real
    vocab: Vocab
    train: EncodedReviews
    valid: EncodedReviews
    valid_tokens: list  # token lists of the validation part (the calibration cuts snippets from them)
    data: dict  # the card's "data" section
    views: dict = field(default_factory=dict)  # short-input views of the validation part (short_inputs)
    train_sentences: list | None = None  # per training review, its sentences' word ids (for --sentence-crops)


def prepare(dataset: str, config: SentimentConfig, settings: TrainSettings, pretrained_w2v: str | None,
            saved_vocab: str | None = None, lm: SavedLM | None = None) -> Prepared:
    """Read, split, tokenize, build the vocabulary (or take the checkpoint's, or the word LM's
    that a fresh ``--from-lm`` run starts from) and encode; cut the short-input views of the
    validation part and, with ``--sentence-crops``, the training reviews into sentences."""
    texts, labels, stats = read_labelled(dataset, "train")
    if texts and len(set(labels)) < 2:
        raise DataError(f"{dataset}: a sentiment classifier needs both positive and negative reviews "
                        f"(every review here is labelled {labels[0]})")
    lang = guess_lang(texts) if config.lang == "auto" else config.lang
    if lm is not None and lm.lang != lang:
        raise DataError(f"the word LM {lm.path} reads {lm.lang} text, the training texts are {lang}: "
                        f"train a word LM on {lang} text")
    if settings.valid_data:
        train_idx, valid_idx = append_validation(texts, labels, settings.valid_data)
    else:
        train_idx, valid_idx = split_indices(len(texts), settings.valid_fraction, settings.seed)
    if texts and len({labels[i] for i in train_idx}) < 2:  # (a tiny file: the held-out part took one label)
        raise DataError(f"{dataset}: the training part ({len(train_idx)} reviews after the validation part is held "
                        "out) holds one label only; a classifier needs both: give more reviews")
    say(f"{len(texts):,} labelled reviews ({sum(labels):,} positive): {len(train_idx):,} train, "
        f"{len(valid_idx):,} validation; tokenizing ({lang})...")
    token_lists = list(tokenize_texts(texts, lang))
    if saved_vocab is not None:
        vocab = Vocab.from_tsv(saved_vocab, where="the checkpoint's vocabulary")
    elif lm is not None:
        vocab = lm.vocab
    else:
        vocab = build_vocab((token_lists[i] for i in train_idx), config.vocab_size - SPECIALS)
    embed_dim = embedding_dim(config.embed_dim, pretrained_w2v)
    resolved = config.resolved(lang)
    resolved = SentimentConfig(**{**asdict(resolved), "vocab_size": len(vocab), "embed_dim": embed_dim})
    encoder = make_encoder(resolved, vocab)
    train = encode_reviews(token_lists, train_idx, labels, encoder)
    valid = encode_reviews(token_lists, valid_idx, labels, encoder)
    views = sentence_views([texts[i] for i in valid_idx], valid.labels, lang, encoder)
    sentences = train_sentences([texts[i] for i in train_idx], lang, encoder) if settings.sentence_crops else None
    del texts
    data = {"dataset": str(dataset), "split": "train", "reviews": len(train) + len(valid), "train": len(train),
            "valid": len(valid), "valid_data": settings.valid_data, "skipped_rows": stats.skipped,
            "tokens_unk_rate": round(vocab.unk_rate(), 4)}
    return Prepared(resolved, vocab, train, valid, [token_lists[i] for i in valid_idx], data, views, sentences)
