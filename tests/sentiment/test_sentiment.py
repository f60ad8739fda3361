"""Sentiment end to end on hand-written data: training in seconds, prediction, JSON output,
empty lines, Chinese through jieba, evaluation, the shipped models and stdin streaming."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
from pathlib import Path

import pytest

from textlab.sentiment.model import SentimentConfig

EN_POS = ["a wonderful moving film", "great acting and a lovely story", "i loved it brilliant",
          "excellent superb and fun", "the best movie this year amazing", "beautiful and touching"]
EN_NEG = ["a terrible boring film", "awful acting and a dull story", "i hated it dreadful",
          "horrible worst and painful", "the worst movie this year a waste", "ugly and stupid"]
ZH_POS = ["房间很干净，服务很好", "非常满意，下次还来", "早餐丰富，环境优美", "位置方便，前台热情"]
ZH_NEG = ["房间很脏，服务很差", "非常失望，再也不来", "早餐难吃，环境吵闹", "设施陈旧，前台冷漠"]


def write_csv(path: Path, pos: list[str], neg: list[str], n: int = 200, joiner: str = " ") -> Path:
    rng = random.Random(0)
    rows = ["label,review"]
    for _ in range(n):
        rows.append(f'1,"{rng.choice(pos)}{joiner}{rng.choice(pos)}"')
        rows.append(f'0,"{rng.choice(neg)}{joiner}{rng.choice(neg)}"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def tiny_config(lang: str) -> SentimentConfig:
    return SentimentConfig(lang=lang, vocab_size=1000, embed_dim=16, hidden=16, max_len=40, head_len=10,
                           bag_buckets=1000, bag_dim=8, dropout=0.1, ngram_branch_buckets=1 << 14)


def run(cli, *args, input=None):
    result = cli(*args, input=input)
    assert result.exit_code == 0, result.stderr + result.stdout
    return result


def test_separates_obvious_lines_and_keeps_empty_lines(cli, en_model):
    text = "what a wonderful and moving film\n\nawful, boring and dull\n"
    out = run(cli, "sentiment", "--model", str(en_model), input=text).stdout.split("\n")
    assert out[0].startswith("positive\t") and out[1] == "" and out[2].startswith("negative\t")
    assert 0.5 <= float(out[0].split("\t")[1]) <= 1.0



def test_a_file_name_given_as_a_text_is_scored_as_text_and_said_so(cli, en_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reviews.txt").write_text("awful\n")
    result = run(cli, "sentiment", "--model", str(en_model), "reviews.txt")
    assert len(result.stdout.splitlines()) == 1  # one answer, for the text "reviews.txt"
    assert "note: 'reviews.txt' is scored as a text, not read as a file; for its lines: textlab sentiment < reviews.txt" \
        in result.stderr
    assert "note:" not in run(cli, "sentiment", "--model", str(en_model), "great film", "missing.txt").stderr

def test_a_dash_reads_standard_input_as_the_unix_tools_do(cli, en_model):
    text = "what a wonderful and moving film\nawful, boring and dull\n"
    dashed = run(cli, "sentiment", "--model", str(en_model), "-", input=text).stdout
    assert dashed == run(cli, "sentiment", "--model", str(en_model), input=text).stdout
    assert [line.split("\t")[0] for line in dashed.splitlines()] == ["positive", "negative"]


def test_eval_says_which_rows_it_skipped(cli, en_model, tmp_path):
    data = tmp_path / "labelled.csv"
    data.write_text("label,review\n2,a good film\n0,awful and boring\n")
    result = run(cli, "eval-sentiment", "--model", str(en_model), str(data))
    assert "1 malformed rows skipped (first: line 2: label '2'" in result.stderr


def test_json_output_parses(cli, en_model):
    out = run(cli, "sentiment", "--model", str(en_model), "--json", "great acting, i loved it", "i hated it, dreadful and awful", "").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative", None]
    assert rows[0]["positive"] > 0.5 > rows[1]["positive"]
    assert rows[2] == {"label": None, "probability": None, "positive": None}  # every row has every key


def test_card_and_eval(cli, en_model, tmp_path):
    card = json.loads((en_model / "config.json").read_text())
    assert card["kind"] == "sentiment" and card["config"]["lang"] == "en"
    assert card["metrics"]["valid_accuracy"] >= 0.9 and card["data"]["train"] + card["data"]["valid"] == 400
    assert (en_model / "curve.png").read_bytes()[:4] == b"\x89PNG"  # the training curve ships with the model
    # the default model mixes the n-gram branch in, and stores its table as int8 (read back below)
    assert len(card["metrics"]["mix"]) == 6 and card["extra"]["ngram_table"].startswith("int8")
    assert card["extra"]["short_mix"] == pytest.approx(card["metrics"]["mix"][3:], abs=1e-4)  # what loading reads
    data = write_csv(tmp_path / "test.csv", EN_POS, EN_NEG, n=20)
    result = json.loads(run(cli, "eval-sentiment", "--model", str(en_model), str(data), "--json").stdout)
    assert result["n"] == 40 and result["accuracy"] >= 0.9
    assert sum(map(sum, result["confusion"]["rows_true_cols_predicted"])) == 40


def test_chinese_goes_through_jieba(cli, tmp_path, monkeypatch):
    import textlab.text.tokenize as tokenize

    calls = []
    real = tokenize.tokenize_chinese
    monkeypatch.setattr(tokenize, "tokenize_chinese", lambda text, options: calls.append(text) or real(text, options))
    data = write_csv(tmp_path / "zh.csv", ZH_POS, ZH_NEG, joiner="，")
    run(cli, "train-sentiment", str(data), "--lang", "zh", "--epochs", "25", "--vocab-size", "500",
        "--embed-dim", "16", "--hidden", "16", "--max-len", "40", "-o", str(tmp_path / "zh"))
    assert calls, "Chinese training text must be tokenized by jieba"
    vocab = (tmp_path / "zh" / "vocab.tsv").read_text(encoding="utf-8")
    assert "\n房间\t" in vocab and "\n服务\t" in vocab  # words, not characters
    card = json.loads((tmp_path / "zh" / "config.json").read_text(encoding="utf-8"))
    assert card["config"]["ngram_branch_units"] == "words+chars"  # the n-gram branch also sees characters
    out = run(cli, "sentiment", "--model", str(tmp_path / "zh"), input="服务很好，非常满意\n房间很脏，非常失望\n").stdout
    assert out.splitlines()[0].startswith("positive") and out.splitlines()[1].startswith("negative")


def test_explicit_validation_set(cli, tmp_path):
    data = write_csv(tmp_path / "train.csv", EN_POS, EN_NEG, n=50)
    valid = write_csv(tmp_path / "valid.csv", EN_POS, EN_NEG, n=7)
    run(cli, "train-sentiment", str(data), "--valid-data", str(valid), "--epochs", "2", "--vocab-size", "100",
        "--embed-dim", "8", "--hidden", "8", "--max-len", "20", "--linear-buckets", "4096", "-o", str(tmp_path / "m"))
    card = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert (card["data"]["train"], card["data"]["valid"]) == (100, 14)  # every training row kept
    assert card["data"]["valid_data"] == str(valid) and card["config"]["ngram_branch_units"] == "words"
    missing = cli("train-sentiment", str(data), "--valid-data", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "x"))
    assert missing.exit_code != 0 and "nope.csv" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "x").exists()
    one_label = tmp_path / "pos.csv"
    one_label.write_text('label,review\n1,"great fun"\n1,"lovely film"\n', encoding="utf-8")
    for args in (("--valid-data", str(one_label)), ()):
        dataset = str(data) if args else str(one_label)
        refused = cli("train-sentiment", dataset, *args, "-o", str(tmp_path / "y"))
        assert refused.exit_code != 0 and "both positive and negative" in refused.stderr
        assert "Traceback" not in refused.stderr and not (tmp_path / "y").exists()


def test_one_label_validation_part_adds_the_logits(cli, tmp_path):
    data = tmp_path / "four.csv"  # one validation review: a fitted mix would learn a constant
    data.write_text('label,review\n1,"great fun"\n0,"awful dull"\n1,"lovely film"\n0,"boring mess"\n', encoding="utf-8")
    run(cli, "train-sentiment", str(data), "--valid-fraction", "0.25", "--epochs", "1", "--vocab-size", "20",
        "--embed-dim", "4", "--hidden", "4", "--max-len", "8", "--linear-buckets", "1024", "-o", str(tmp_path / "m"))
    card = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert card["data"]["valid"] == 1 and card["metrics"]["mix"] == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_refuses_overwrite_and_bad_model(cli, en_model, tmp_path):
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=5)
    result = cli("train-sentiment", str(data), "-o", str(en_model), "--epochs", "1")
    assert result.exit_code == 1 and "already exists" in result.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    card = json.loads((en_model / "config.json").read_text())
    card["config"]["hidden"] = 10**7
    (broken / "config.json").write_text(json.dumps(card))
    result = cli("sentiment", "--model", str(broken), "hello")
    assert result.exit_code == 1 and "outside" in result.stderr


def test_shipped_model_works_without_training(cli):
    out = run(cli, "sentiment", input="A wonderful, moving film.\n").stdout
    assert out.startswith("positive\t")
    out = run(cli, "sentiment", "--json", "This was a boring waste of time, awful acting.", "酒店很差，房间又脏又吵，再也不来了").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["label"] for r in rows] == ["negative", "negative"]


def test_stdin_streams_before_input_ends(en_model, tmp_path):
    env = {**os.environ, "TEXTLAB_NO_PROGRESS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "textlab", "sentiment", "--model", str(en_model)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        proc.stdin.write(b"a wonderful moving film\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no result before the end of input"
        assert proc.stdout.readline().decode().startswith("positive\t")
        proc.stdin.write(b"awful and boring\n")
        proc.stdin.close()
        assert proc.stdout.readline().decode().startswith("negative\t")
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_pretrained_word2vec_initialises_the_embedding(tmp_path):
    import torch

    from textlab.errors import DataError
    from textlab.sentiment.word2vec_init import init_embedding, word2vec_dim
    from textlab.store.cards import ModelCard
    from textlab.store.files import save_model
    from textlab.text import Vocab

    w2v_vocab = Vocab(["good", "bad", "film"], [5, 4, 3])
    vectors = torch.arange(12, dtype=torch.float32).reshape(3, 4) + 1
    path = save_model(tmp_path / "w2v", ModelCard(kind="word2vec", config={"dim": 4}), {"vectors": vectors},
                      vocab_tsv=w2v_vocab.to_tsv())
    assert word2vec_dim(str(path)) == 4
    ours = Vocab(["<pad>", "<unk>", "film", "good", "other"], [0, 0, 3, 2, 1])
    embedding = torch.nn.Embedding(len(ours), 4, padding_idx=0)
    info = init_embedding(embedding, ours, str(path))
    assert info["covered"] == 2
    weight = embedding.weight.detach()
    ratio = weight[2] / vectors[2]  # "film" row copied (rescaled as a whole)
    assert torch.allclose(ratio, ratio[0].expand(4)) and torch.all(weight[0] == 0)
    with pytest.raises(DataError, match="dimension"):
        init_embedding(torch.nn.Embedding(len(ours), 8), ours, str(path))
