"""Text processing: cleaning, tokenizers (English via nltk, Chinese via jieba) and vocabularies."""

from textlab.text.tokenize import (
    LANGS,
    TokenizerOptions,
    detect_lang,
    strip_html,
    tokenize_line,
    tokenize_lines,
    tokenize_pieces,
    tokenize_stream,
)
from textlab.text.vocab import PAD, UNK, Vocab

__all__ = [
    "LANGS", "PAD", "UNK", "TokenizerOptions", "Vocab", "detect_lang", "strip_html",
    "tokenize_line", "tokenize_lines", "tokenize_pieces", "tokenize_stream",
]
