"""The shipped English review LM (``shipped:imdb``) loads from its float16 weights and reads
movie-review English far better than its unigram baseline."""

from __future__ import annotations

from textlab.store.choice import resolve_model
from textlab.wordlm.evaluate import evaluate_text
from textlab.wordlm.saving import load_wordlm

REVIEWS = [
    "this movie was one of the worst films i have ever seen . the acting was terrible and the plot made no sense .",
    "i loved this film . the story is moving and the cast is wonderful , especially the lead actress .",
    "the director does a great job with the first half , but the ending is a bit of a letdown .",
    "if you like horror movies you will enjoy this one . it is scary and funny at the same time .",
]


def test_the_shipped_review_lm_beats_its_unigram_baseline_on_reviews():
    model, vocab, card = load_wordlm(resolve_model("shipped:imdb", "wordlm"))
    assert card.config["lang"] == "en" and card.extra["weights"].startswith("float16")
    result = evaluate_text(model, vocab, REVIEWS)
    assert result["unk_rate"] < 0.02
    assert result["perplexity"] < 0.35 * result["unigram_perplexity"]  # held-out: 206.9 against 1,011.7
