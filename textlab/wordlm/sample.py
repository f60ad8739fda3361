"""Sampling words: the seed (tokenized as the model reads text, after an <eos>: a seed starts a
document) in one forward pass, then one word at a time (temperature, optional top-k:
:mod:`textlab.lm.sampling`) until ``length`` words or a sampled <eos>. <pad> and <unk> are never
drawn; seed words outside the vocabulary are read as <unk> (:func:`seed_ids` names them)."""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from textlab.errors import DataError
from textlab.lm.sampling import check_sampling, draw, step_by_step_kernels
from textlab.text import Vocab, tokenize_line, word_model_options
from textlab.wordlm.data import EOS_ID, PAD_ID, UNK_ID
from textlab.wordlm.model import WordLM


def readable(text: str) -> str:
    """``text`` with lone surrogates (what argv gives for bytes that are not UTF-8) replaced by
    U+FFFD, as textlab reads invalid bytes in files."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def seed_ids(seed: str, vocab: Vocab, lang: str) -> tuple[list[int], list[str]]:
    """The seed's word ids and its words outside the vocabulary (read as <unk>); a seed the
    tokenizer keeps no word of is refused."""
    words = tokenize_line(seed, word_model_options(lang))
    if not words:
        raise DataError(f"the seed {seed!r} holds no words (the {lang} tokenizer keeps none of it); "
                        "leave --seed out to start a document")
    unknown = list(dict.fromkeys(w for w in words if w not in vocab.index))
    return [int(i) for i in vocab.encode_array(words)], unknown


def joiner(lang: str) -> str:
    """How words are written one after another: a space, none in Chinese."""
    return "" if lang == "zh" else " "


@torch.inference_mode()
def sample_words(model: WordLM, vocab: Vocab, ids: list[int], length: int, temperature: float = 0.8,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> Iterator[str]:
    """Up to ``length`` words that continue the document ``ids`` (stops at a sampled <eos>)."""
    check_sampling(temperature, top_k)
    model.eval()
    device = next(model.parameters()).device
    log_probs, state = model.next_log_probs(torch.tensor([[EOS_ID, *ids]], dtype=torch.int64, device=device))
    with step_by_step_kernels():
        for _ in range(length):
            log_probs[:, [PAD_ID, UNK_ID]] = float("-inf")
            next_id = draw(log_probs, temperature, top_k, generator)
            if int(next_id) == EOS_ID:
                return
            yield vocab.words[int(next_id)]
            log_probs, state = model.next_log_probs(next_id, state)


def generate_words(model: WordLM, vocab: Vocab, seed: str | None, length: int = 50, temperature: float = 0.8,
                   top_k: int | None = None, on_piece: Callable[[str], None] | None = None,
                   generator: torch.Generator | None = None) -> str:
    """The seed followed by the sampled words (``on_piece`` sees the seed, then each word with its
    separator, as they come)."""
    lang = model.config.lang
    seed = None if seed is None else readable(seed)
    ids = seed_ids(seed, vocab, lang)[0] if seed is not None else []
    pieces = [seed or ""]
    if on_piece is not None:
        on_piece(pieces[0])
    for word in sample_words(model, vocab, ids, length, temperature, top_k, generator):
        piece = (joiner(lang) if pieces[-1] and not pieces[-1][-1].isspace() else "") + word
        pieces.append(piece)
        if on_piece is not None:
            on_piece(piece)
    return "".join(pieces)
