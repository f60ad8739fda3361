"""Tokenizers: English through an nltk regexp tokenizer (no data download), Chinese through
jieba's precise mode, ``none`` for text that is already tokenized.

``tokenize_line`` handles one line; ``tokenize_stream`` runs many lines through worker
processes in blocks, keeping their order and holding only a few blocks in memory.
"""

from __future__ import annotations

import html
import multiprocessing
import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator

from textlab.errors import UsageError
from textlab.runtime import default_workers

LANGS = ("en", "zh", "auto", "none")

_TAG = re.compile(r"<[^<>]{0,500}>")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
# Words are runs of letters/digits, with inner apostrophes kept ("don't", "l'amour").
# Everything else (punctuation, symbols, control characters) separates tokens and is dropped.
ENGLISH_PATTERN = r"[^\W_]+(?:['\u2019][^\W_]+)*"


@lru_cache(maxsize=1)
def english_tokenizer():
    """nltk's RegexpTokenizer over our fixed pattern, matched with the stdlib ``re`` engine.

    nltk compiles caller-supplied patterns through its ReDoS guard (the ``regex`` engine with a
    timeout per match); our pattern is fixed and linear-time, and ``re`` runs it ~1.5x faster.
    nltk is imported here, on first use, because importing it costs about a second.
    """
    from nltk.tokenize import RegexpTokenizer

    class _StdlibRegexpTokenizer(RegexpTokenizer):
        def _check_regexp(self):
            if self._regexp is None:
                self._regexp = re.compile(self._pattern, self._flags)

    return _StdlibRegexpTokenizer(ENGLISH_PATTERN)


@dataclass(frozen=True)
class TokenizerOptions:
    lang: str = "auto"
    lowercase: bool = True
    stopwords: bool = False

    def __post_init__(self) -> None:
        if self.lang not in LANGS:
            raise UsageError(f"unknown language {self.lang!r}; use one of: {', '.join(LANGS)}")


@lru_cache(maxsize=None)
def stopword_set(lang: str) -> frozenset[str]:
    """The stop-word list shipped with textlab for ``en`` or ``zh``."""
    text = resources.files("textlab.text").joinpath(f"stopwords_{lang}.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def strip_html(text: str) -> str:
    """Remove HTML tags (``<br />`` included) and decode entities such as ``&amp;``."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def detect_lang(text: str) -> str:
    """``zh`` when the text contains CJK ideographs, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _keep_zh(token: str) -> bool:
    # Drop whitespace and punctuation/symbol tokens; keep words in any script.
    return any(ch.isalnum() for ch in token)


def tokenize_english(text: str, options: TokenizerOptions) -> list[str]:
    text = strip_html(text)
    if options.lowercase:
        text = text.lower()
    tokens = english_tokenizer().tokenize(text)
    if options.stopwords:
        stop = stopword_set("en")
        tokens = [t for t in tokens if t.lower() not in stop]
    return tokens


def tokenize_chinese(text: str, options: TokenizerOptions) -> list[str]:
    text = strip_html(text)
    if options.lowercase:
        text = text.lower()
    tokens = [t for t in _jieba().cut(text, HMM=True) if _keep_zh(t)]
    if options.stopwords:
        stop = stopword_set("zh") | stopword_set("en")
        tokens = [t for t in tokens if t not in stop]
    return tokens


def tokenize_line(text: str, options: TokenizerOptions = TokenizerOptions()) -> list[str]:
    """Tokens of one line (or document) of text."""
    lang = options.lang
    if lang == "none":
        return text.split()
    if lang == "auto":
        lang = detect_lang(text)
    if lang == "zh":
        return tokenize_chinese(text, options)
    return tokenize_english(text, options)


# --------------------------------------------------------------------------- parallel stream

_worker_options: TokenizerOptions | None = None
BLOCK_CHARS = 1 << 20
# jieba is ~10x slower per character than the English regexp: smaller blocks keep both workers busy
# on a few-MB file (a 2.5 MB novel in 1 MB blocks left one worker idle for a third of the run).
BLOCK_CHARS_CJK = 1 << 17


def _init_worker(options: TokenizerOptions) -> None:
    global _worker_options
    _worker_options = options


def _tokenize_block(block: list[str]) -> list[str]:
    options = _worker_options or TokenizerOptions()
    return [" ".join(tokenize_line(line, options)) for line in block]


def _blocks(lines: Iterable[str], block_chars: int) -> Iterator[list[str]]:
    block: list[str] = []
    size = 0
    for line in lines:
        block.append(line)
        size += len(line) + 1
        if size >= block_chars:
            yield block
            block, size = [], 0
    if block:
        yield block


def tokenize_stream(
    lines: Iterable[str],
    options: TokenizerOptions = TokenizerOptions(),
    workers: int | None = None,
    block_chars: int | None = None,
) -> Iterator[list[str]]:
    """Tokenize lines in order, yielding one block (a list of space-joined token strings,
    one per input line) at a time.

    Input smaller than one block, ``lang=none`` and ``workers=1`` run in this process;
    otherwise blocks go to a pool of worker processes, at most ``2 * workers`` in flight.
    """
    workers = default_workers() if workers is None else max(1, workers)
    if block_chars is None:
        block_chars = BLOCK_CHARS if options.lang in ("en", "none") else BLOCK_CHARS_CJK
    blocks = _blocks(lines, block_chars)
    first = next(blocks, None)
    if first is None:
        return
    second = next(blocks, None)
    if second is None or workers == 1 or options.lang == "none":
        _init_worker(options)
        yield _tokenize_block(first)
        if second is not None:
            yield _tokenize_block(second)
            for block in blocks:
                yield _tokenize_block(block)
        return
    if options.lang in ("zh", "auto"):
        _jieba()  # load the dictionary once; forked workers inherit it
    if options.lang in ("en", "auto"):
        english_tokenizer()
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(workers, initializer=_init_worker, initargs=(options,)) as pool:
        pending: deque = deque()
        for block in _chain(first, second, blocks):
            pending.append(pool.apply_async(_tokenize_block, (block,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _chain(first, second, rest):
    yield first
    yield second
    yield from rest


def tokenize_lines(lines: Iterable[str], options: TokenizerOptions = TokenizerOptions(), workers: int | None = None) -> Iterator[list[str]]:
    """Token lists, one per input line, in order (parallel where it pays)."""
    for block in tokenize_stream(lines, options, workers):
        for joined in block:
            yield joined.split()
