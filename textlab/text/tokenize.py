"""Tokenizers: English through an nltk regexp tokenizer (no data download), Chinese through
jieba's precise mode, ``none`` for text that is already tokenized.

``tokenize_line`` handles one line; ``tokenize_stream`` runs many lines through worker
processes in blocks, keeping their order and holding only a few blocks in memory.
"""

from __future__ import annotations

import html
import multiprocessing
import re
import signal
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator, Sequence

from textlab.errors import UsageError
from textlab.runtime.device import default_workers

LANGS = ("en", "zh", "auto", "none")

_TAG = re.compile(r"<[^<>]{0,500}>")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
# Words are runs of letters/digits, with inner apostrophes kept ("don't", "l'amour").
# Everything else (punctuation, symbols, control characters) separates tokens and is dropped.
ENGLISH_PATTERN = r"[^\W_]+(?:['\u2019][^\W_]+)*"
# Beyond ASCII a letter keeps the combining marks that follow it (an accent written as U+0308
# after NFC has nothing to compose with, a Devanagari vowel sign): they are part of the word.
_PART = r"[^\W_]+(?:[{marks}]+[^\W_]*)*"  # letters, and marks with the letters after them
UNICODE_PATTERN = rf"{_PART}(?:'{_PART})*"


@lru_cache(maxsize=2)
def english_tokenizer(unicode: bool = False):
    """nltk's RegexpTokenizer over our fixed pattern (``unicode``: the one that keeps combining
    marks in their words, for text that is not ASCII), matched with the stdlib ``re`` engine.

    nltk compiles caller-supplied patterns through its ReDoS guard (the ``regex`` engine with a
    timeout per match); our patterns are fixed and linear-time (a mark is never a word
    character), and ``re`` runs them ~1.5x faster. The class comes from
    :func:`nltk_regexp_module`, which loads it in 0.05 s instead of 0.9 s.
    """
    RegexpTokenizer = nltk_regexp_module().RegexpTokenizer

    class _StdlibRegexpTokenizer(RegexpTokenizer):
        def _check_regexp(self):
            if self._regexp is None:
                self._regexp = re.compile(self._pattern, self._flags)

    if not unicode:
        return _StdlibRegexpTokenizer(ENGLISH_PATTERN)
    from textlab.text.marks import mark_class

    return _StdlibRegexpTokenizer(UNICODE_PATTERN.replace("{marks}", mark_class()))


#: Apostrophes that stand for ``'`` inside words: RIGHT SINGLE QUOTATION MARK (what word
#: processors and phones type for ``don't``) and MODIFIER LETTER APOSTROPHE.
_APOSTROPHES = ("\u2019", "\u02bc")


def normalized(text: str) -> str:
    """Non-ASCII text as the tokenizers read it: Unicode NFC (a decomposed ``é`` is the composed
    one) and typographic apostrophes as ``'`` (``don’t`` is ``don't``, one vocabulary entry)."""
    import unicodedata

    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    for apostrophe in _APOSTROPHES:  # (str.replace: 50x faster than str.translate here)
        if apostrophe in text:
            text = text.replace(apostrophe, "'")
    return text


def nltk_regexp_module():
    """``nltk.tokenize.regexp``, loaded without running ``nltk/__init__.py`` when nltk is not
    imported yet: that file imports all of nltk (parsers, classifiers, scipy.stats, scikit-learn:
    0.9 s and ~100 MB here, most of a one-line ``textlab sentiment``), where the tokenizer needs
    four small modules. Stand-in package objects for ``nltk`` and ``nltk.tokenize`` let the
    import system find those four, and every ``nltk`` entry is removed from ``sys.modules``
    afterwards, so a later ``import nltk`` (by the user, in this process) is the full, normal
    import; the module returned here keeps working on its own."""
    import importlib
    import importlib.util
    import sys
    import types

    if "nltk" in sys.modules:  # already imported in full: use it
        return importlib.import_module("nltk.tokenize.regexp")
    spec = importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        return importlib.import_module("nltk.tokenize.regexp")  # raises the usual ImportError
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("nltk", root), ("nltk.tokenize", f"{root}/tokenize")):
        stand_in = types.ModuleType(name)
        stand_in.__path__ = [path]
        sys.modules[name] = stand_in
    try:
        return importlib.import_module("nltk.tokenize.regexp")
    finally:
        for name in [n for n in sys.modules if n == "nltk" or n.startswith("nltk.")]:
            del sys.modules[name]


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


def guess_lang(texts: Sequence[str], sample: int = 500) -> str:
    """The language of a collection (``--lang auto`` for a model): ``zh`` when most of its
    first ``sample`` texts contain CJK ideographs, else ``en``."""
    first = texts[:sample]
    zh = sum(detect_lang(t) == "zh" for t in first)
    return "zh" if zh * 2 > len(first) else "en"


def word_model_options(lang: str) -> TokenizerOptions:
    """How the models that read words (sentiment, the word LM) tokenize: lowercased, stop words
    kept. One source, so that one model's vocabulary and embedding fit the other."""
    return TokenizerOptions(lang=lang, lowercase=True, stopwords=False)


@lru_cache(maxsize=1)
def _jieba():
    """jieba with its dictionary loaded (once per process). Building the prefix dictionary from
    jieba's word list takes ~1.5 s; jieba keeps the result in a cache file, which goes to
    ``$TEXTLAB_HOME/cache/jieba`` (jieba's default, the system's temporary directory, is emptied
    by many systems), so every later start loads it in ~0.5 s."""
    import logging
    import os

    import jieba

    from textlab.store.places import textlab_home

    # CRITICAL: jieba reports a cache file it cannot write (a read-only home and a system
    # temporary directory owned by another user) with a traceback; it still segments correctly.
    jieba.setLogLevel(logging.CRITICAL)
    cache = textlab_home() / "cache" / "jieba"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        if os.access(cache, os.W_OK):
            jieba.dt.tmp_dir = str(cache)
    except OSError:  # a read-only home: jieba's default place
        pass
    jieba.initialize()
    return jieba


def _keep_zh(token: str) -> bool:
    # Drop whitespace and punctuation/symbol tokens; keep words in any script.
    return any(ch.isalnum() for ch in token)


def tokenize_english(text: str, options: TokenizerOptions) -> list[str]:
    text = strip_html(text)
    ascii_only = text.isascii()
    if not ascii_only:
        text = normalized(text)
    if options.lowercase:
        text = text.lower()
    tokens = english_tokenizer(unicode=not ascii_only).tokenize(text)
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
    if lang == "none":  # already tokenized: split on white space, case kept; --stopwords still applies
        tokens = text.split()
        if options.stopwords:
            stop = stopword_set("en") | stopword_set("zh")
            tokens = [t for t in tokens if t.lower() not in stop]
        return tokens
    if lang == "auto":
        lang = detect_lang(text)
    if lang == "zh":
        return tokenize_chinese(text, options)
    return tokenize_english(text, options)


# --------------------------------------------------------------------------- parallel stream

_worker_options: TokenizerOptions | None = None  # set in each worker process by the pool's initializer
BLOCK_CHARS = 1 << 20
# jieba is ~10x slower per character than the English regexp: smaller blocks keep both workers busy
# on a few-MB file (a 2.5 MB novel in 1 MB blocks left one worker idle for a third of the run).
BLOCK_CHARS_CJK = 1 << 17


def _init_worker(options: TokenizerOptions) -> None:
    global _worker_options
    _worker_options = options
    # Ctrl-C reaches the whole process group: the parent stops the pool; a worker that raised
    # KeyboardInterrupt itself would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def tokenize_block(block: list[str], options: TokenizerOptions) -> list[str]:
    """Space-joined tokens of each line of ``block``."""
    return [" ".join(tokenize_line(line, options)) for line in block]


def _tokenize_in_worker(block: list[str]) -> list[str]:
    return tokenize_block(block, _worker_options or TokenizerOptions())


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

    Input smaller than one block, ``lang=none`` and ``workers=1`` run in this process (a block
    is yielded as soon as it is read: ``block_chars=1`` answers line by line); otherwise
    blocks go to a pool of worker processes, at most ``2 * workers`` in flight.
    """
    workers = default_workers() if workers is None else max(1, workers)
    if block_chars is None:
        block_chars = BLOCK_CHARS if options.lang in ("en", "none") else BLOCK_CHARS_CJK
    blocks = _blocks(lines, block_chars)
    if workers == 1 or options.lang == "none":
        for block in blocks:
            yield tokenize_block(block, options)
        return
    first = next(blocks, None)
    if first is None:
        return
    second = next(blocks, None)
    if second is None:
        yield tokenize_block(first, options)
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
            pending.append(pool.apply_async(_tokenize_in_worker, (block,)))
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


def tokenize_pieces(
    pieces: Iterable[tuple[str, bool]],
    options: TokenizerOptions = TokenizerOptions(),
    workers: int | None = None,
    block_chars: int | None = None,
) -> Iterator[str]:
    """Tokenized text of ``(piece, ends_line)`` pairs as :func:`textlab.data.iter_corpus_pieces`
    reads them, block by block: one line of space-separated tokens per input line, the pieces
    of an overlong line joined again by single spaces. The concatenation of what it yields is
    the whole output."""
    line_ends: deque[bool] = deque()

    def texts() -> Iterator[str]:
        for piece, ends in pieces:
            line_ends.append(ends)
            yield piece

    need_space = False
    for block in tokenize_stream(texts(), options, workers, block_chars):
        parts: list[str] = []
        for tokens in block:
            if tokens:
                if need_space:
                    parts.append(" ")
                parts.append(tokens)
                need_space = True
            if line_ends.popleft():
                parts.append("\n")
                need_space = False
        yield "".join(parts)
