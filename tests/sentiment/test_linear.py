"""The naive-Bayes-weighted n-gram branch: stable hashing, learning, and the logit mix."""

import subprocess
import sys

import numpy as np
import torch

from textlab.sentiment.linear import LinearSettings, fit_mix, hashed_ngrams, linear_logits, train_linear

POSITIVE = ["a wonderful moving film", "great acting and a great story", "i loved it , wonderful",
            "not bad at all , really great", "brilliant and moving", "a great , great film"]
NEGATIVE = ["a terrible boring film", "awful acting and a dull story", "i hated it , terrible",
            "not good at all , really awful", "boring and dull", "an awful , awful film"]


def test_hashing_is_stable_order_sensitive_and_binary():
    tokens = "not good but not bad".split()
    ids = hashed_ngrams(tokens, 1 << 20, 3, 1000)
    assert ids.dtype == np.int64 and np.all(np.diff(ids) > 0)  # sorted, distinct (binary features)
    assert ids.min() >= 0 and ids.max() < 1 << 20
    assert len(ids) == 4 + 4 + 3  # 4 distinct words ("not" twice), 4 bigrams, 3 trigrams
    assert not np.array_equal(hashed_ngrams(["not", "good"], 1 << 20, 2, 10),
                              hashed_ngrams(["good", "not"], 1 << 20, 2, 10))
    assert len(hashed_ngrams([], 1 << 20, 3, 10)) == 0
    assert len(hashed_ngrams(tokens, 1 << 20, 3, 2)) == 3  # only the first 2 words: 2 unigrams + 1 bigram
    # CRC-32 based: the same ids in another process (Python's own str hash is salted per process)
    code = ("from textlab.sentiment.linear import hashed_ngrams;"
            "print(hashed_ngrams('not good but not bad'.split(), 1 << 20, 3, 1000).tolist())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == str(ids.tolist())


def test_character_ngrams_for_chinese_and_words_plus_chars():
    tokens = ["房间", "很脏"]
    chars = hashed_ngrams(tokens, 1 << 20, 3, 1000, units="chars", char_separator="")
    assert len(chars) == 4 + 3 + 2  # 房 间 很 脏, 3 character bigrams, 2 trigrams
    words = hashed_ngrams(tokens, 1 << 20, 3, 1000)
    both = hashed_ngrams(tokens, 1 << 20, 3, 1000, units="words+chars", char_separator="")
    assert set(both.tolist()) == set(words.tolist()) | set(chars.tolist()) and len(both) == 9 + 3
    # a one-character word is a different feature from the same character
    assert set(hashed_ngrams(["好"], 1 << 20, 1, 10).tolist()).isdisjoint(
        hashed_ngrams(["好"], 1 << 20, 1, 10, units="chars").tolist())
    # English joins tokens with a space: "a b" has the character bigrams "a " and " b"
    assert len(hashed_ngrams(["a", "b"], 1 << 20, 2, 10, units="chars")) == 3 + 2
    assert len(hashed_ngrams(["房间", "很脏"], 1 << 20, 3, 1, units="chars", char_separator="")) == 2 + 1


def _bags(texts):
    return [hashed_ngrams(t.split(), 1 << 16, 3, 1000).astype(np.int32) for t in texts]


def test_branch_separates_obvious_reviews_and_folds_its_ratio():
    texts, labels = POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE)
    model, info = train_linear(_bags(texts), labels, _bags(texts), labels, 1 << 16)
    assert model.ratio is None  # folded into the weights for saving
    logits = linear_logits(model, _bags(["what a wonderful great film", "what a terrible awful film"]))
    assert logits[0] > 0 > logits[1]
    assert info["valid_accuracy"] == 1.0


def test_learning_rate_and_epoch_chosen_by_validation_loss():
    import re

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]  # many rare words

    def review(label):
        return " ".join(list(rng.choice(words, 12)) + [("good" if label else "bad")] * int(rng.random() < 0.7))

    labels = [int(x) for x in rng.integers(0, 2, 300)]
    valid_labels = [int(x) for x in rng.integers(0, 2, 200)]
    train, valid = _bags([review(y) for y in labels]), _bags([review(y) for y in valid_labels])
    lines = []
    settings = LinearSettings(epochs=3, learning_rates=(0.5, 0.01))
    model, info = train_linear(train, labels, valid, valid_labels, 1 << 16, settings, log=lines.append)
    logged = [(float(r), int(e), float(loss)) for r, e, loss in
              (re.search(r"rate (\S+), epoch (\d+):.*loss (\S+)", line).groups() for line in lines)]
    assert len(logged) == 6
    rate, epoch, loss = min(logged, key=lambda item: item[2])
    assert (info["learning_rate"], info["best_epoch"]) == (rate, epoch)
    assert len({round(item[2], 3) for item in logged}) > 3  # the runs differ: the choice matters
    np.testing.assert_allclose(info["valid_loss"], loss, atol=1e-4)


def test_mix_weights_the_informative_logit():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    informative = (labels * 2 - 1) * 2.0 + rng.normal(0, 1, 2000)
    noise = rng.normal(0, 1, 2000)
    mix = fit_mix(noise, informative, labels)
    assert isinstance(mix, torch.Tensor) and mix.shape == (6,)
    assert mix[1] > 1.0 and abs(float(mix[0])) < 0.3
    assert mix[3:].tolist() == [0.0, 0.0, 0.0]  # no word counts: one mix for every length


def test_the_mix_learns_which_part_to_trust_on_short_texts():
    """Short texts where only the n-gram branch knows, long ones where only the neural part does:
    the short-text terms move the weight to the branch as texts get short."""
    from textlab.sentiment.mix import mixed_logits

    rng = np.random.default_rng(1)
    n = 4000
    labels = rng.integers(0, 2, n)
    sign = labels * 2 - 1
    words = np.where(np.arange(n) % 2 == 0, 4, 300).astype(np.float64)
    short = words < 10
    neural = np.where(short, rng.normal(0, 2, n), sign * 2.0 + rng.normal(0, 1, n))
    ngram = np.where(short, sign * 0.5 + rng.normal(0, 0.25, n), rng.normal(0, 1, n))
    mix = fit_mix(neural, ngram, labels, words)
    assert mix[4] > 1.0 and mix[3] < 0  # on short texts: more branch, less neural part
    assert abs(float(mix[1])) < 0.5 and mix[0] > 0.5  # on long ones the neural part decides
    with_terms = mixed_logits(mix, neural, ngram, words)
    one_mix = mixed_logits(fit_mix(neural, ngram, labels), neural, ngram, words)
    right = lambda logits: ((logits > 0) == (labels == 1))[short].mean()
    assert right(with_terms) > 0.95 > right(one_mix) + 0.1


def test_int8_weights_looked_up_are_the_dequantized_table_at_those_rows():
    from textlab.sentiment.hashing import dequantize_int8_array, dequantize_int8_at
    from textlab.sentiment.linear import quantize_int8

    quantized, scales = (t.numpy() for t in quantize_int8(torch.randn(5_000, 1)))
    ids = np.array([0, 1, 255, 256, 4_999, 17, 17])
    np.testing.assert_array_equal(dequantize_int8_at(quantized, scales, ids),
                                  dequantize_int8_array(quantized, scales)[ids, 0])


def test_int8_table_round_trip_is_close():
    from textlab.sentiment.linear import INT8_BLOCK, dequantize_int8, int8_scales_shape, quantize_int8

    weight = torch.randn(10_000, 1) * torch.rand(10_000, 1) ** 4  # heavy-tailed, like NB-LR weights
    quantized, scales = quantize_int8(weight)
    assert quantized.dtype == torch.int8 and quantized.shape == weight.shape
    assert tuple(scales.shape) == int8_scales_shape(10_000) == (-(-10_000 // INT8_BLOCK),)
    restored = dequantize_int8(quantized, scales)
    block_max = weight.reshape(-1)[: len(scales) * INT8_BLOCK].abs().max()
    assert (restored - weight).abs().max() <= block_max / 254 + 1e-6
