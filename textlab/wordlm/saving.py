"""Save and load a word LM as a store model: the card (config, data, figures, training record),
``vocab.tsv`` (the vocabulary with its training counts: what the unigram baseline and a
sentiment model starting from this one read), ``weights.safetensors`` (the embedding stored once:
the softmax's rows are tied to it) and ``curve.png``."""

from __future__ import annotations

from pathlib import Path

import torch

from textlab.errors import DataError
from textlab.lm.record import training_record
from textlab.plots import CURVE_FILE
from textlab.store.cards import VOCAB_FILE, ModelCard, read_card
from textlab.store.choice import ModelChoice, choose_model
from textlab.store.files import load_tensors, save_model
from textlab.text import EOS, PAD, UNK, Vocab
from textlab.wordlm.config import WordLMConfig
from textlab.wordlm.model import WordLM

KIND = "wordlm"
def save_wordlm(path: Path, model: WordLM, vocab: Vocab, data: dict, metrics: dict, settings: dict,
                force: bool = False) -> Path:
    card_settings, curve = training_record(settings, f"word LM: {Path(str(data.get('corpus', ''))).name}")
    card = ModelCard(kind=KIND, config=model.config.to_dict(), data=data, metrics=metrics,
                     extra={"training": card_settings})
    return save_model(path, card, model.weights(), vocab_tsv=vocab.to_tsv(),
                      extra_files={CURVE_FILE: curve} if curve else None, force=force)


def load_vocab(path: Path, config: WordLMConfig) -> Vocab:
    vocab = Vocab.load(Path(path) / VOCAB_FILE)
    if len(vocab) != config.vocab_size or vocab.words[:3] != [PAD, UNK, EOS]:
        raise DataError(f"{path}/{VOCAB_FILE} does not match the model (expected {config.vocab_size:,} entries "
                        f"starting with {PAD}, {UNK}, {EOS})")
    return vocab


def load_wordlm(path: Path, device: torch.device | str = "cpu") -> tuple[WordLM, Vocab, ModelCard]:
    """Rebuild the model from its card, check the vocabulary and the weights' shapes, then load them."""
    card = read_card(path)
    if card.kind != KIND:
        raise DataError(f"{path} is a {card.kind} model, not a {KIND} model")
    config = WordLMConfig.from_dict(card.config, where=f"{path}/config.json")
    vocab = load_vocab(path, config)
    model = WordLM(config)
    model.load_state_dict(load_tensors(path, model.tensor_shapes()))
    model.to(device).eval()
    return model, vocab, card


def choose_wordlm(spec: str | Path | None, lang: str | None = None) -> ModelChoice:
    """``--model`` when given; else the newest word LM in the store of the text's language, else
    the newest one (a shipped one when the store has none)."""
    def fits(path: Path, card: ModelCard) -> bool:
        return lang is None or card.config.get("lang") == lang

    return choose_model(spec, KIND, fits=fits, fit_reason="of the text's language")
