"""Text beyond ASCII: one word however its accents are written (NFC), marks kept in their word
(Indic vowel signs), typographic apostrophes read as ``'``; ASCII text takes the fast path."""

from __future__ import annotations

import unicodedata

import pytest

from textlab.text.marks import MARK_RANGES, UNICODE_VERSION
from textlab.text.tokenize import TokenizerOptions, tokenize_line


def bmp_marks() -> set[int]:
    return {c for c in range(0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")}


def test_the_written_mark_table_is_the_plane_s_marks():
    written = {c for a, b in MARK_RANGES for c in range(a, b + 1)}
    if unicodedata.unidata_version == UNICODE_VERSION:
        assert written == bmp_marks()
    else:  # a later Unicode only adds marks
        assert written <= bmp_marks()


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_accents_however_written_make_one_word(form):
    text = unicodedata.normalize(form, "Naïve café in Zürich, señor")
    assert tokenize_line(text, TokenizerOptions("en")) == ["naïve", "café", "in", "zürich", "señor"]


def test_combining_marks_stay_in_their_word():
    assert tokenize_line("नमस्ते दुनिया", TokenizerOptions("auto")) == ["नमस्ते", "दुनिया"]
    assert tokenize_line("x\u0301\u0301y, z", TokenizerOptions("en")) == ["x\u0301\u0301y", "z"]


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u02bc"])
def test_typographic_apostrophes_are_the_plain_one(apostrophe):
    text = f"I don{apostrophe}t think it{apostrophe}s bad — l{apostrophe}amour!"
    assert tokenize_line(text, TokenizerOptions("en")) == ["i", "don't", "think", "it's", "bad", "l'amour"]


def test_ascii_and_non_ascii_text_split_alike():
    plain = "It's a fine_film -- 10/10, rock'n'roll <br />forever"
    assert tokenize_line(plain + " é", TokenizerOptions("en")) == tokenize_line(plain, TokenizerOptions("en")) + ["é"]


def test_stop_words_apply_to_text_already_tokenized():
    options = TokenizerOptions("none", stopwords=True)
    assert tokenize_line("The Cat is on THE mat", options) == ["Cat", "mat"]
    assert tokenize_line("The Cat is on THE mat", TokenizerOptions("none")) == ["The", "Cat", "is", "on", "THE", "mat"]
