"""Which model answers: per language without --model (the newest user model of that language,
else the shipped one), named on stderr in one line; an explicit --model answering lines of
another language says so once."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.sentiment.test_sentiment import ZH_NEG, ZH_POS, tiny_config, write_csv

ENGLISH = "A wonderful, moving film."
CHINESE = "房间很干净，服务很好"


@pytest.fixture(scope="module")
def zh_model(tmp_path_factory):
    from textlab.sentiment.config import TrainSettings
    from textlab.sentiment.train import train_sentiment

    root = tmp_path_factory.mktemp("zh")
    data = write_csv(root / "zh.csv", ZH_POS, ZH_NEG, joiner="，")
    train_sentiment(str(data), tiny_config("zh"), TrainSettings(epochs=10, batch_size=32, device="cpu"), root / "m")
    return root / "m"


def store(path, home, name):
    target = home / "models" / name
    shutil.copytree(path, target)
    return target


def test_a_user_chinese_model_does_not_answer_english_lines(cli, zh_model, textlab_home):
    store(zh_model, textlab_home, "hotels")
    result = cli("sentiment", "--json", ENGLISH, CHINESE)
    assert result.exit_code == 0, result.stderr
    assert "sentiment: en -> shipped:en, zh -> hotels (user model)" in result.stderr
    english, chinese = (json.loads(line) for line in result.stdout.splitlines())
    assert english["label"] == "positive" and chinese["label"] == "positive"
    assert "warning" not in result.stderr
    # stdin (worker processes) routes the same way
    streamed = cli("sentiment", input=f"{ENGLISH}\n{CHINESE}\n")
    assert streamed.stdout.splitlines()[0].startswith("positive") and "warning" not in streamed.stderr


def test_the_newest_user_model_of_each_language_answers(cli, en_model, zh_model, textlab_home):
    store(zh_model, textlab_home, "hotels")
    store(en_model, textlab_home, "mine")
    result = cli("sentiment", ENGLISH)
    assert "sentiment: en -> mine (user model), zh -> hotels (user model)" in result.stderr
    only_en = cli("sentiment", "--lang", "en", ENGLISH)
    assert only_en.exit_code == 0 and "sentiment: en -> mine (user model)\n" in only_en.stderr


def test_shipped_models_by_name_and_a_warning_once_for_another_language(cli):
    for name in ("shipped:en", "shipped:zh"):
        result = cli("sentiment", "--model", name, ENGLISH if name.endswith("en") else CHINESE)
        assert result.exit_code == 0 and result.stdout.startswith("positive"), result.stderr
        assert f"-> {name}" in result.stderr and "warning" not in result.stderr
    mixed = cli("sentiment", "--model", "shipped:zh", ENGLISH, "Dull and far too long.", CHINESE)
    assert mixed.exit_code == 0 and len(mixed.stdout.splitlines()) == 3
    warnings = [line for line in mixed.stderr.splitlines() if "warning" in line]
    assert warnings == ["sentiment: warning: en lines are answered by shipped:zh, a zh model (no en model in use; "
                        "without --model each language gets its own)"]
    streamed = cli("sentiment", "--model", "shipped:zh", "--batch-size", "1", input=f"{ENGLISH}\n{ENGLISH}\n{ENGLISH}\n")
    assert sum("warning" in line for line in streamed.stderr.splitlines()) == 1  # once, across worker processes
    english = cli("sentiment", "--model", "shipped:zh", CHINESE)
    assert "an en model" not in english.stderr and "warning" not in english.stderr
    assert "an en model (no zh model" in cli("sentiment", "--model", "shipped:en", CHINESE).stderr


def test_lang_that_overrules_a_line_s_script_is_said_once(cli):
    forced = cli("sentiment", "--lang", "zh", ENGLISH, "Dull and far too long.", CHINESE)
    assert forced.exit_code == 0 and len(forced.stdout.splitlines()) == 3
    warnings = [line for line in forced.stderr.splitlines() if "warning" in line]
    assert warnings == ["sentiment: warning: en lines are read as zh (--lang zh); --lang auto gives each line "
                        "the model of its own script"]
    assert "warning" not in cli("sentiment", "--lang", "en", ENGLISH).stderr
    streamed = cli("sentiment", "--lang", "zh", "--batch-size", "1", input=f"{ENGLISH}\n{ENGLISH}\n{ENGLISH}\n")
    assert [line for line in streamed.stderr.splitlines() if "warning" in line] == warnings  # from the workers too
