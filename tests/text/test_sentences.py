"""The regex sentence splitter behind the short-input views and the sentence crops."""

from __future__ import annotations

from textlab.text.sentences import first_and_last, split_sentences, tokenized_sentences


def test_splits_at_sentence_ends_and_imdb_line_breaks_keeping_quotes():
    text = 'I loved it. "Great!" he said.<br /><br />Bad ending?? Yes (sure.) ok\nfin'
    assert split_sentences(text) == ['I loved it.', '"Great!"', 'he said.', 'Bad ending??', 'Yes (sure.)', 'ok', 'fin']
    assert split_sentences("3.5 stars, e.g.this") == ["3.5 stars, e.g.this"]  # no space: no break
    assert split_sentences("房间很干净。服务很好！”再来") == ["房间很干净。", "服务很好！”", "再来"]
    assert split_sentences("  <br/>  ") == []


def test_first_and_last_skip_sentences_shorter_than_four_tokens():
    sentences = [["wow", "."], ["a", "fine", "film", "indeed"], ["so", "so"], ["the", "end", "was", "bad"], ["meh"]]
    assert first_and_last(sentences) == (1, 3)
    assert first_and_last([["ok"], ["very", "good"]]) == (1, 1)  # none long enough: the longest
    assert first_and_last([]) == (0, 0)


def test_tokenized_sentences_keep_each_texts_sentences_together():
    out = tokenized_sentences(["A b. C d.", "", "E."], lambda strings: [s.lower().split() for s in strings])
    assert out == [[("A b.", ["a", "b."]), ("C d.", ["c", "d."])], [], [("E.", ["e."])]]
