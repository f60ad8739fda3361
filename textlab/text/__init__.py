"""Text processing: cleaning, tokenizers (English via nltk, Chinese via jieba) and vocabularies."""

from textlab.text.tokenize import (
    LANGS,
    TokenizerOptions,
    detect_lang,
    guess_lang,
    strip_html,
    tokenize_line,
    tokenize_lines,
    tokenize_pieces,
    tokenize_stream,
    word_model_options,
)
from textlab.text.vocab import EOS, PAD, UNK, Vocab

__all__ = [
    "EOS", "LANGS", "PAD", "UNK", "TokenizerOptions", "Vocab", "detect_lang", "guess_lang", "strip_html",
    "tokenize_line", "tokenize_lines", "tokenize_pieces", "tokenize_stream", "word_model_options",
]
