"""Short inputs (what people pipe in is often one sentence): the validation views and the
sentence crops that training may add.

- The views: each validation review's first and its last sentence (split by
  :mod:`textlab.text.sentences`; a sentence of fewer than :data:`MIN_TOKENS` tokens is skipped
  for the next, or previous, one), labelled by its review. The finished model is scored on both
  (``valid_accuracy_first_sentence``, ``valid_accuracy_last_sentence`` in the card).
- The crops (``--sentence-crops F``): each epoch of the neural part adds ``round(F * n)``
  examples (``n`` training reviews), each 1-3 consecutive sentences of a training review drawn
  at random, labelled by it; drawn from the run's seed and the epoch, so a resumed run sees the
  same crops."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from textlab.sentiment.data import EncodedReviews, EncodedText, Encoder, tokenize_texts
from textlab.text.sentences import first_and_last, tokenized_sentences

MIN_TOKENS = 4
VIEWS = ("first", "last")
MAX_CROP_SENTENCES = 3


def _tokenizer(lang: str):
    return lambda strings: list(tokenize_texts(strings, lang))


def view_sentences(texts: Sequence[str], lang: str) -> dict[str, list[tuple[str, list[str]]]]:
    """Per view, each text's chosen sentence and its tokens (an empty text: an empty sentence)."""
    views: dict = {view: [] for view in VIEWS}
    for sentences in tokenized_sentences(texts, _tokenizer(lang)):
        picked = first_and_last([tokens for _, tokens in sentences], MIN_TOKENS)
        for view, index in zip(VIEWS, picked):
            views[view].append(sentences[index] if sentences else ("", []))
    return views


def sentence_views(texts: Sequence[str], labels: Sequence[int], lang: str, encoder: Encoder) -> dict[str, EncodedReviews]:
    """The first- and last-sentence views of ``texts`` (the validation reviews), encoded."""
    views = {view: EncodedReviews() for view in VIEWS}
    for view, chosen in view_sentences(texts, lang).items():
        for (_, tokens), label in zip(chosen, labels):
            views[view].append(encoder.encode(tokens), label)
    return views


def train_sentences(texts: Sequence[str], lang: str, encoder: Encoder) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per training review, its word ids (all sentences, in order) and where each sentence starts."""
    out = []
    for sentences in tokenized_sentences(texts, _tokenizer(lang)):
        ids = [encoder.ids(tokens) for _, tokens in sentences]
        starts = np.cumsum([0, *map(len, ids)])
        out.append((np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32), starts))
    return out


def crop_count(share: float, n_train: int) -> int:
    return int(round(share * n_train))


def sentence_crops(sentences: list[tuple[np.ndarray, np.ndarray]], labels: Sequence[int], share: float, seed: int,
                   epoch: int, encoder: Encoder) -> EncodedReviews:
    """This epoch's crops, encoded for the neural part (word ids and the bag; no n-gram-branch ids)."""
    rng = np.random.default_rng([seed, epoch, 7])
    encoder = replace(encoder, ngram_branch_buckets=0)
    crops = EncodedReviews()
    for review in rng.integers(0, len(sentences), crop_count(share, len(sentences))):
        ids, starts = sentences[review]
        n = len(starts) - 1
        k = int(rng.integers(1, MAX_CROP_SENTENCES + 1))
        first = int(rng.integers(0, max(1, n - k + 1)))
        words = ids[starts[first]: starts[min(n, first + k)]] if n else ids
        crops.append(EncodedText(encoder.sequence(words), encoder.bag(words), None, len(words)), labels[review])
    return crops


def with_crops(train: EncodedReviews, crops: EncodedReviews) -> EncodedReviews:
    """The training reviews followed by the crops (lists joined; arrays shared)."""
    return EncodedReviews(train.sequences + crops.sequences, train.bags + crops.bags, train.labels + crops.labels,
                          train.ngram_branch + crops.ngram_branch, train.words + crops.words)
