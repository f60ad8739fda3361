"""Which model answers: the shipped one when the store has none of the kind (said on stderr),
the one in the query's language or alphabet, never one silently applied to other text; and
the message that names the command to run when there is no model at all."""

from __future__ import annotations

import json

from tests.fakes import (
    EN_OTHER, EN_PAIRS, SHAKESPEARE_ALPHABET, ZH_OTHER, ZH_PAIRS, planted_vectors, save_char_model, save_word_model,
)


def stderr_lines(result) -> list[str]:
    return result.stderr.splitlines()


def test_shipped_word_vectors_answer_and_say_so(cli, fake_shipped):
    result = cli("analogy", "king", "man", "woman")
    assert result.exit_code == 0, result.stderr
    assert "queen" in [line.split()[0] for line in result.stdout.splitlines()[:3]]
    assert stderr_lines(result) == ["using shipped:en (word2vec, English, shipped with textlab)"]
    result = cli("neighbors", "国王", "-k", "3", "--json")  # Chinese words: the Chinese vectors
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["model"] == "shipped:zh" and payload["results"][0]["word"] == "王后"
    assert stderr_lines(result) == ["using shipped:zh (word2vec, Chinese, shipped with textlab)"]
    result = cli("analogy", "king", "man", "woman", "--model", "shipped:en")  # named: nothing to announce
    assert result.exit_code == 0 and result.stderr == ""


def test_queries_fold_case_like_the_training(cli, fake_shipped):
    upper = cli("neighbors", "Movie", "-k", "4", "--json")
    lower = cli("neighbors", "movie", "--topn", "4", "--json")  # gensim's name for -k
    assert upper.exit_code == 0, upper.stderr
    assert json.loads(upper.stdout)["results"] == json.loads(lower.stdout)["results"]
    assert len(json.loads(lower.stdout)["results"]) == 4


def test_unknown_word_names_the_model_in_one_line(cli, fake_shipped):
    result = cli("neighbors", "zebra")
    assert result.exit_code == 1
    assert stderr_lines(result) == [f"textlab: error: word 'zebra' is not in the vocabulary of shipped:en "
                                    f"({2 * len(EN_PAIRS) + len(EN_OTHER)} words)"]


def test_chinese_words_pick_a_chinese_model_user_or_shipped(cli, fake_shipped, textlab_home):
    models = textlab_home / "models"
    save_word_model(models / "mine-en", *planted_vectors(EN_PAIRS, EN_OTHER, seed=5), lang="auto")
    result = cli("analogy", "king", "man", "woman")
    assert result.exit_code == 0 and stderr_lines(result) == ["using mine-en (word2vec, English, newest in the store)"]
    result = cli("neighbors", "国王")  # the user's model is English: the shipped Chinese one answers
    assert result.exit_code == 0 and stderr_lines(result) == ["using shipped:zh (word2vec, Chinese, shipped with textlab)"]
    save_word_model(models / "mine-zh", *planted_vectors(ZH_PAIRS, ZH_OTHER, seed=6), lang="auto")
    result = cli("neighbors", "国王")
    assert result.exit_code == 0 and stderr_lines(result) == ["using mine-zh (word2vec, Chinese, newest in the store)"]
    result = cli("neighbors", "king")  # mine-zh is newer, but English words go to the English model
    assert result.exit_code == 0 and stderr_lines(result)[0].startswith("using mine-en (word2vec, English")


def test_no_model_at_all_names_the_command_that_makes_one(cli, nothing_shipped):
    for args, wanted in [
        (["generate", "--seed", "p"], "no charlm model yet: train one with 'textlab train-charlm tinyshakespeare'"),
        (["analogy", "king", "man", "woman"], "no word2vec model yet: train one with 'textlab train-w2v text8'"),
        (["neighbors", "国王"], "no word2vec model yet: train one with 'textlab train-w2v hongloumeng'"),
        (["export-w2v", "x.txt"], "no word2vec model yet: train one with 'textlab train-w2v text8'"),
    ]:
        result = cli(*args)
        assert result.exit_code == 1 and stderr_lines(result) == [f"textlab: error: {wanted}"], args
    result = cli("neighbors", "king", "--model", "en")
    assert result.exit_code == 1 and "no model named 'en'" in result.stderr


def test_a_shipped_name_without_its_prefix_is_suggested(cli, fake_shipped):
    result = cli("neighbors", "king", "--model", "zh")
    assert stderr_lines(result) == ["textlab: error: no model named 'zh'; did you mean shipped:zh? (see `textlab models`)"]


def test_shipped_char_lm_generates_reproducibly(cli, fake_shipped):
    first = cli("generate", "--seed", "p", "--len", "300", "--random-seed", "7")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("p") and len(first.stdout) == 1 + 300 + 1
    assert stderr_lines(first) == ["using shipped:shakespeare (charlm, shipped with textlab)"]
    assert cli("generate", "--seed", "p", "--len", "300", "--random-seed", "7").stdout == first.stdout
    streamed = cli("generate", "--seed", "p", "--len", "300", "--random-seed", "7", "--stream")
    assert streamed.stdout == first.stdout
    assert cli("generate", "--seed", "p", "--len", "300", "--random-seed", "8").stdout != first.stdout


def test_seed_outside_the_alphabet_names_the_model_and_share(cli, fake_shipped):
    result = cli("generate", "--seed", "ab中", "--len", "5")
    assert result.exit_code == 1
    assert stderr_lines(result) == ["textlab: error: the seed has 1 of 3 characters (33.33%) outside the alphabet of "
                                    f"shipped:shakespeare ({len(SHAKESPEARE_ALPHABET)} characters): '中'"]


def test_char_model_is_chosen_by_alphabet_and_other_text_is_refused(cli, fake_shipped, textlab_home, tmp_path):
    chinese = list(dict.fromkeys("宝玉笑道：林妹妹来了。黛玉听了，便笑道：宝玉又来了。\n "))
    save_char_model(textlab_home / "models" / "lm-zh", chinese)
    english = tmp_path / "held_out.txt"
    english.write_text("to be or not to be, that is the question.\n" * 30)
    result = cli("eval-charlm", str(english), "--json")  # the user's model is Chinese: the shipped one answers
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "shipped:shakespeare"
    assert stderr_lines(result) == ["using shipped:shakespeare (charlm, shipped with textlab)"]
    result = cli("generate", "--seed", "宝玉", "--len", "10")
    assert result.exit_code == 0 and stderr_lines(result)[0].startswith("using lm-zh (charlm, newest in the store")

    result = cli("eval-charlm", str(english), "--model", "lm-zh")  # named, but the wrong alphabet: refused
    assert result.exit_code == 1 and len(stderr_lines(result)) == 1
    assert "has 960 of 1,260 characters (76.19%) outside the alphabet of lm-zh" in result.stderr  # all but ' \\n'
    assert "more than 1%" in result.stderr

    few = tmp_path / "few.txt"  # 2 unknown characters in 1,221: measured without them, with a warning
    few.write_text("to be or not to be, that is the question.\n" * 29 + "ÆØ\n")
    result = cli("eval-charlm", str(few), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["chars"] == len(few.read_text()) - 2 - 1
    lines = stderr_lines(result)
    assert lines[0] == "using shipped:shakespeare (charlm, shipped with textlab)"
    assert lines[1].startswith("warning: ") and "2 of 1,221 characters (0.16%)" in lines[1]
    assert "'Æ' 'Ø'" in lines[1] and "measured without them" in lines[1] and len(lines) == 2


def test_a_shipped_name_of_another_kind_is_named_and_generate_offers_word_lms(cli):
    result = cli("sentiment", "--model", "shipped:imdb", "hi")
    assert result.exit_code == 1 and stderr_lines(result) == [
        "textlab: error: no shipped sentiment model named 'imdb' (shipped:imdb is a wordlm model; "
        "shipped sentiment models: shipped:en, shipped:zh)"]
    result = cli("generate", "--model", "shipped:en", "--len", "5")
    assert result.exit_code == 1 and stderr_lines(result) == [
        "textlab: error: no shipped charlm model named 'en' (shipped:en is a sentiment and a word2vec model; "
        "shipped charlm models: shipped:shakespeare); generate also samples from a word LM (shipped:imdb)"]
    assert cli("generate", "--model", "shipped:imdb", "--len", "3", "--random-seed", "1").exit_code == 0


def test_a_bare_name_of_both_a_store_model_and_a_local_directory_is_refused(cli, tmp_path, monkeypatch, textlab_home):
    """-o NAME writes the store; --model NAME must not quietly read ./NAME instead."""
    source = tmp_path / "v.txt"
    source.write_text("2 2\nking 1 0\nqueen 0 1\n")
    monkeypatch.chdir(tmp_path)
    assert cli("import-w2v", str(source), "-o", "./twin").exit_code == 0
    assert cli("neighbors", "king", "--model", "twin").exit_code == 0  # only the directory: it answers
    assert cli("import-w2v", str(source), "-o", "twin").exit_code == 0  # now the store has one too
    result = cli("neighbors", "king", "--model", "twin")
    assert result.exit_code == 1 and "'twin' names both your model" in result.stderr and "write ./twin" in result.stderr
    assert cli("neighbors", "king", "--model", "./twin").exit_code == 0
    assert cli("neighbors", "king", "--model", str(textlab_home / "models" / "twin")).exit_code == 0
