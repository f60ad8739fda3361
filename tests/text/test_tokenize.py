from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from textlab.text import TokenizerOptions, detect_lang, strip_html, tokenize_line, tokenize_lines, tokenize_stream

EN = TokenizerOptions(lang="en")
ZH = TokenizerOptions(lang="zh")


def test_english_strips_html_and_lowercases():
    assert tokenize_line("Don't <br />stop believing!", EN) == ["don't", "stop", "believing"]
    assert tokenize_line("<i>Great</i> film &amp; cast", EN) == ["great", "film", "cast"]


def test_keep_case_and_stopwords():
    assert tokenize_line("The Movie", TokenizerOptions(lang="en", lowercase=False)) == ["The", "Movie"]
    assert tokenize_line("this is the best film of all", TokenizerOptions(lang="en", stopwords=True)) == ["best", "film"]


def test_punctuation_only_gives_no_tokens():
    assert tokenize_line("!!! ... ??? --- ;;", EN) == []
    assert tokenize_line("，。！？、", ZH) == []


def test_chinese_precise_mode_drops_punctuation():
    assert tokenize_line("我来到北京清华大学", ZH) == ["我", "来到", "北京", "清华大学"]
    assert "，" not in tokenize_line("我爱北京，也爱上海。", ZH)


def test_traditional_chinese_is_segmented():
    tokens = tokenize_line("我們今天去臺北看電影", ZH)
    assert len(tokens) >= 3 and "".join(tokens) == "我們今天去臺北看電影"


def test_auto_detects_script():
    assert detect_lang("hello world") == "en"
    assert detect_lang("今天天气很好") == "zh"
    auto = TokenizerOptions(lang="auto")
    assert tokenize_line("Hello World", auto) == ["hello", "world"]
    assert tokenize_line("今天天气很好, OK", auto)[-1] == "ok"


def test_none_splits_on_white_space_only():
    assert tokenize_line("Hello, World  x\ty", TokenizerOptions(lang="none")) == ["Hello,", "World", "x", "y"]


def test_strip_html_keeps_text_between_tags():
    assert strip_html("a<br/>b<p class='x'>c</p>").split() == ["a", "b", "c"]


def test_parallel_stream_preserves_order_and_content():
    lines = [f"Line number {i} with <b>words</b>" for i in range(3000)] + ["今天天气很好"] * 10
    serial = [tokenize_line(line, TokenizerOptions()) for line in lines]
    blocks = list(tokenize_stream(iter(lines), TokenizerOptions(), workers=2, block_chars=4096))
    assert len(blocks) > 2  # really went through several blocks
    joined = [line for block in blocks for line in block]
    assert [j.split() for j in joined] == serial


def test_tokenize_lines_empty_input():
    assert list(tokenize_lines(iter([]))) == []


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_tokenizer_never_crashes_and_yields_clean_tokens(text):
    for options in (EN, ZH, TokenizerOptions(lang="auto", stopwords=True)):
        tokens = tokenize_line(text, options)
        assert all(token and not any(ch.isspace() for ch in token) for token in tokens)


def test_interleaved_streams_keep_their_own_options():
    """Two streams tokenized in this process, their blocks interleaved, each with its options."""
    lines = ["The Movie was GOOD", "这部电影很好 Great", "Not BAD at all"]
    plain, kept = TokenizerOptions(lang="en"), TokenizerOptions(lang="none", lowercase=False)
    first = tokenize_stream(iter(lines), plain, workers=1, block_chars=1)
    second = tokenize_stream(iter(lines), kept, workers=1, block_chars=1)
    got_first, got_second = [], []
    for _ in lines:
        got_first += next(first)
        got_second += next(second)
    assert got_first == [" ".join(tokenize_line(line, plain)) for line in lines]
    assert got_second == lines
    assert got_first[0] == "the movie was good"


def test_a_block_is_yielded_before_the_next_line_is_read():
    """One line per block in this process: its tokens come out before more input is asked for
    (what lets `textlab tokenize` answer someone typing)."""
    read = []

    def typed():
        for line in ("Hello there", "General Kenobi"):
            read.append(line)
            yield line

    stream = tokenize_stream(typed(), TokenizerOptions(lang="en"), workers=1, block_chars=1)
    assert next(stream) == ["hello there"] and read == ["Hello there"]
    assert next(stream) == ["general kenobi"]
