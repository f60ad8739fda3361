"""A small regex sentence splitter (no model to download): a break at every HTML line break
(IMDb's ``<br />``) and newline, after a run of ``.``, ``!`` or ``?`` (closing quotes and
brackets kept with it) followed by whitespace, and after Chinese ``。！？；`` (no space needed).
Good enough to cut reviews into short inputs; abbreviations ("Mr. Smith") split too."""

from __future__ import annotations

import re
from typing import Callable, Sequence

_BREAK = re.compile(r"<br\s*/?>|\n", re.IGNORECASE)
_END = re.compile(r"([.!?]+[\"'”’)\]]*)\s+|[。！？；]+[”’」』）)]*")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, stripped, empty ones dropped."""
    sentences = []
    for part in _BREAK.split(text):
        start = 0
        for end in _END.finditer(part):
            sentences.append(part[start: end.end(1) if end.group(1) else end.end()])
            start = end.end()
        sentences.append(part[start:])
    return [s.strip() for s in sentences if s.strip()]


def first_and_last(sentences: Sequence[Sequence[str]], min_tokens: int = 4) -> tuple[int, int]:
    """Indexes of the first and the last of the tokenized ``sentences`` with at least
    ``min_tokens`` tokens (a shorter one is skipped for the next, or previous, one); with none
    that long, the longest sentence both times."""
    long_enough = [i for i, tokens in enumerate(sentences) if len(tokens) >= min_tokens]
    if not long_enough:
        longest = max(range(len(sentences)), key=lambda i: len(sentences[i]), default=0)
        return longest, longest
    return long_enough[0], long_enough[-1]


def tokenized_sentences(texts: Sequence[str], tokenize: Callable[[list[str]], list[list[str]]],
                        ) -> list[list[tuple[str, list[str]]]]:
    """Per text, its sentences with their tokens (``tokenize`` takes many strings at once)."""
    split = [split_sentences(text) for text in texts]
    flat = tokenize([s for sentences in split for s in sentences])
    out, at = [], 0
    for sentences in split:
        out.append(list(zip(sentences, flat[at: at + len(sentences)])))
        at += len(sentences)
    return out
