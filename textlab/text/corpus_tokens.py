"""Tokens of a whole corpus, streamed through the shared tokenizer path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from textlab.data.corpus import iter_corpus_lines
from textlab.runtime.progress import ProgressBar
from textlab.text.tokenize import TokenizerOptions, tokenize_stream


def iter_corpus_token_lines(path: Path, options: TokenizerOptions, workers: int | None = None) -> Iterator[str]:
    """Space-joined tokens for each line (or bounded piece of an overlong line) of a corpus."""
    for block in tokenize_stream(iter_corpus_lines(path), options, workers):
        yield from block


def count_corpus(path: Path, options: TokenizerOptions, workers: int | None = None) -> Counter:
    """Token counts of a corpus, with a progress bar over the lines read."""
    counter: Counter = Counter()
    total = 0
    with ProgressBar(None, "count words", unit="lines") as bar:
        for block in tokenize_stream(iter_corpus_lines(path), options, workers):
            for joined in block:
                tokens = joined.split()
                total += len(tokens)
                counter.update(tokens)
            bar.update(advance=len(block), tokens=f"{total:,}")
    return counter
