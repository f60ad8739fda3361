"""Calibrated probabilities: the ECE measure, the length-dependent temperature, its storage in
the card, believable answers for short texts from the shipped models, ECE in eval-sentiment."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from textlab.errors import DataError
from textlab.sentiment.calibrate import Calibration, expected_calibration_error, fit_calibration, snippets

LONG_POSITIVE = (
    "I went in expecting very little and came out moved. The acting is superb from start to finish, the story "
    "is told with real care, and the photography is beautiful. The lead gives one of the best performances "
    "I have seen in years, funny and heartbreaking at once, and the supporting cast is just as good. The "
    "music fits every scene. It is a wonderful film that I will happily watch again, and I recommend it to "
    "anyone who loves great cinema. A brilliant, touching and memorable film, easily the best of the year."
)


def test_ece_measures_the_gap_between_confidence_and_accuracy():
    p = np.full(100, 0.9)
    assert expected_calibration_error(p, [1] * 90 + [0] * 10) == pytest.approx(0.0)
    assert expected_calibration_error(p, [1] * 50 + [0] * 50) == pytest.approx(0.4)
    # negatives count by the confidence of their label: p = 0.2 is 80% sure of "negative"
    assert expected_calibration_error(np.full(10, 0.2), [0] * 8 + [1] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([], []) == 0.0


def test_fit_recovers_a_length_dependent_temperature():
    rng = np.random.default_rng(0)
    words = np.exp(rng.uniform(0, np.log(400), 20_000))
    true_logit = rng.normal(0, 3, 20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    truth = Calibration(base=1.0, scale=20.0, power=1.2)
    overconfident = true_logit * truth.temperature(words)  # what an uncalibrated model would say
    fitted = fit_calibration(overconfident, words, labels)
    for n in (1, 3, 10, 50, 400):
        assert fitted.temperature(np.array([n]))[0] == pytest.approx(truth.temperature(np.array([n]))[0], rel=0.25)
    p_before = 1 / (1 + np.exp(-overconfident))
    p_after = 1 / (1 + np.exp(-fitted.apply(overconfident, words)))
    assert expected_calibration_error(p_after, labels) < 0.02 < expected_calibration_error(p_before, labels)
    assert np.array_equal(p_after >= 0.5, p_before >= 0.5)  # a positive temperature never moves a label
    assert fit_calibration(overconfident, words, np.ones_like(labels)) == Calibration()  # one label: nothing to fit


def test_snippets_are_short_runs_of_the_review_with_its_label():
    tokens = [[f"w{i}" for i in range(300)], ["a", "b"], ["single"]]
    texts, labels = snippets(tokens, [1, 0, 1], seed=0)
    assert labels == [1, 0] and len(texts) == 2  # a one-word review has no shorter run
    assert 1 <= len(texts[0]) <= 64 and " ".join(texts[0]) in " ".join(tokens[0])
    assert texts[1] in (["a"], ["b"])


def test_calibration_in_a_card_is_checked(tmp_path):
    assert Calibration.from_dict({"base": 1.0, "scale": 3.0, "power": 1.5}, "card") == Calibration(1.0, 3.0, 1.5)
    for bad in ({"base": 0.0, "scale": 1.0, "power": 1.0}, {"base": 1.0, "scale": float("nan"), "power": 1.0},
                {"base": 1.0, "scale": 1.0}, {"base": "1", "scale": 1.0, "power": 1.0}):
        with pytest.raises(DataError, match="calibration"):
            Calibration.from_dict(bad, "card")


def test_a_broken_calibration_is_a_one_line_error(cli, en_model, tmp_path):
    import shutil

    from textlab.integrity import refresh_checksums

    broken = tmp_path / "broken"
    shutil.copytree(en_model, broken)
    card = json.loads((broken / "config.json").read_text())
    card["extra"]["calibration"]["base"] = -5
    (broken / "config.json").write_text(json.dumps(card))
    refresh_checksums(broken)  # a card written broken, not damaged afterwards
    result = cli("sentiment", "--model", str(broken), "good")
    assert result.exit_code == 1 and "calibration base=-5" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("bad", [[1.0, 2.0], [1.0, "2", 3.0], [0.0, 1e9, 0.0], "0 0 0", [True, 0.0, 0.0]])
def test_broken_short_text_terms_of_the_mix_are_a_one_line_error(cli, en_model, tmp_path, bad):
    import shutil

    from textlab.integrity import refresh_checksums

    broken = tmp_path / "broken"
    shutil.copytree(en_model, broken)
    card = json.loads((broken / "config.json").read_text())
    assert len(card["extra"]["short_mix"]) == 3  # every trained model with an n-gram branch has them
    card["extra"]["short_mix"] = bad
    (broken / "config.json").write_text(json.dumps(card))
    refresh_checksums(broken)
    result = cli("sentiment", "--model", str(broken), "good")
    assert result.exit_code == 1 and "short_mix must be three numbers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_card_written_before_the_short_text_terms_answers_with_one_mix(cli, en_model, tmp_path):
    import shutil

    from textlab.integrity import refresh_checksums
    from textlab.sentiment.light import LightPredictor
    from textlab.sentiment.saved import load_sentiment

    old = tmp_path / "old"
    shutil.copytree(en_model, old)
    card = json.loads((old / "config.json").read_text())
    del card["extra"]["short_mix"]  # as every card saved before session 9
    (old / "config.json").write_text(json.dumps(card))
    refresh_checksums(old)
    assert load_sentiment(old).model.full_mix()[3:].tolist() == [0.0, 0.0, 0.0]
    assert LightPredictor(old).load()._model.mix[3:].tolist() == [0.0, 0.0, 0.0]
    assert len(_probabilities(cli, "good", "a dull and boring film", model=str(old))) == 2


def _probabilities(cli, *texts, model=None):
    args = ["sentiment", "--json", *(["--model", model] if model else []), *texts]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line)["positive"] for line in result.stdout.splitlines()]


def test_shipped_models_are_calibrated_and_believable_on_short_texts(cli):
    from textlab.sentiment.pretrained import shipped_models
    from textlab.sentiment.saved import load_sentiment

    for lang, path in shipped_models().items():
        loaded = load_sentiment(path)
        assert loaded.calibration.scale > 0, lang  # fitted (scripts/build_shipped_sentiment.py recalibrate)
        assert loaded.card.metrics["test_ece"] <= 0.03, lang
        # calibrated on short inputs: snippets of 1-64 words of every validation review
        assert loaded.card.extra["calibration_fit"]["snippet_ece"] <= 0.03, lang
    short_en, one_letter, long_en = _probabilities(cli, "Not bad at all.", "x", LONG_POSITIVE, model="shipped:en")
    # no certainty from four words (were 0.0002 before calibration; the LM-initialised model says 0.18:
    # wrong, as the BiLSTM was with 0.29, but not sure of it), none from one letter
    assert 0.1 <= short_en <= 0.9 and 0.3 <= one_letter <= 0.7
    assert long_en >= 0.95  # a long, clear review keeps its confidence
    one_letter_zh, clear_zh = _probabilities(cli, "x", "酒店很差，房间又脏又吵，服务态度恶劣，再也不来了", model="shipped:zh")
    # a text that says nothing reads about the base rate of the reviews the mix was fitted on:
    # 0.5 for IMDb, 0.687 for ChnSentiCorp's hotel reviews (4,305 of 6,266 positive)
    assert abs(one_letter_zh - 0.687) <= 0.1 and clear_zh <= 0.2


def test_trained_models_store_their_calibration_and_eval_reports_ece(cli, en_model, tmp_path):
    from tests.sentiment.test_sentiment import EN_NEG, EN_POS, write_csv

    card = json.loads((en_model / "config.json").read_text())
    fit = card["extra"]["calibration_fit"]
    assert set(card["extra"]["calibration"]) == {"base", "scale", "power"}
    assert 0.0 <= card["metrics"]["valid_ece"] == fit["valid_ece"] <= 1.0 and "snippet" in fit["fitted_on"]
    data = write_csv(tmp_path / "test.csv", EN_POS, EN_NEG, n=20)
    result = json.loads(cli("eval-sentiment", "--model", str(en_model), str(data), "--json").stdout)
    assert 0.0 <= result["ece"] <= 1.0 and math.isfinite(result["ece"])
    text = cli("eval-sentiment", "--model", str(en_model), str(data)).stdout
    assert f"ece\t{result['ece']:.4f}" in text
