"""Held-out measurement of a word LM: perplexity over every word and every document end of a
text (``<unk>`` counted as a word, as the vocabulary leaves it), with the state carried along
the text (:mod:`textlab.lm.measure`), beside the unigram baseline of the same vocabulary on the
same targets: each word's training count (``vocab.tsv``: ``<unk>`` counts the words left out,
``<eos>`` the documents) plus 0.5, normalised over the vocabulary without ``<pad>``."""

from __future__ import annotations

import math
import shlex
from typing import Callable

import numpy as np
import torch

from textlab.errors import DataError, TextlabError
from textlab.lm import measure as lm_measure
from textlab.text import Vocab
from textlab.wordlm.data import PAD_ID, encode_with, read_documents
from textlab.wordlm.model import WordLM

SMOOTHING = 0.5  # added to every training count of the unigram baseline


def metrics_from_loss(loss: float, tokens: int) -> dict:
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": int(tokens)}


def evaluate_ids(model: WordLM, ids: np.ndarray, device: torch.device | str = "cpu", seq_len: int = 256,
                 n_streams: int | None = None) -> dict:
    """``{loss, perplexity, tokens}`` over every prediction of ``ids`` (all but the first id)."""
    return lm_measure.evaluate_ids(model, ids, metrics_from_loss, device, seq_len, n_streams)


def unigram_perplexity(vocab: Vocab, ids: np.ndarray) -> float:
    """The unigram baseline's perplexity on the targets of ``ids`` (all but the first id)."""
    counts = vocab.counts.astype(np.float64) + SMOOTHING
    counts[PAD_ID] = 0.0  # never a target
    log_probs = np.log(np.maximum(counts, SMOOTHING) / counts.sum())
    targets = np.asarray(ids[1:], dtype=np.int64)
    return float(math.exp(-log_probs[targets].mean())) if len(targets) else float("nan")


def evaluate_text(model: WordLM, vocab: Vocab, lines, device: torch.device | str = "cpu",
                  where: str = "the text") -> dict:
    """Perplexity, the unigram baseline and the unknown-word rate of ``lines`` (documents)."""
    ids, documents, unknown = encode_with(vocab, lines, model.config.lang)
    if documents == 0:
        raise DataError(f"{where} holds no words to measure the model on")
    words = len(ids) - 1 - documents
    result = evaluate_ids(model, ids, device)
    return {**result, "unigram_perplexity": unigram_perplexity(vocab, ids), "words": words,
            "documents": documents, "unk_rate": unknown / words}


def evaluate_on_file(spec: str | None, file: str, device, before: Callable = lambda choice: None) -> dict:
    """``eval-lm``: read the file, pick the model (named, or the newest word LM of the file's
    language), tell ``before`` which model answers, and measure."""
    import itertools

    from textlab.text import guess_lang
    from textlab.wordlm.saving import choose_wordlm, load_wordlm

    lines = read_documents(file)
    first = list(itertools.islice(lines, 500))
    lang = guess_lang(first) if first else None
    choice = choose_wordlm(spec, lang)
    if choice.implicit and lang and choice.card.config.get("lang") != lang:
        raise TextlabError(f"no word LM of the text's language ({lang}) yet: train one with "
                           f"'textlab train-lm {shlex.quote(str(file))} --lang {lang}', or name a model with --model")
    model, vocab, _card = load_wordlm(choice.path, device)
    before(choice)
    model_lang = choice.card.config.get("lang")
    if lang and model_lang and model_lang != lang:  # named with --model: measured, but said
        from textlab.runtime.output import say

        say(f"warning: the text reads as {lang}, {choice.name} is a word LM of {model_lang}: most of its words "
            "will be outside the vocabulary", style="yellow")
    return {**evaluate_text(model, vocab, itertools.chain(first, lines), device, where=str(file)), "model": choice.name}
