from __future__ import annotations

import json
import pickle
from dataclasses import dataclass

import pytest
import torch

from tests.fakes import EN_OTHER, EN_PAIRS, planted_vectors, save_word_model
from textlab.errors import DataError, TextlabError
from textlab.store.cards import ModelCard, config_from_dict, read_card, update_card
from textlab.store.catalogue import key_metric
from textlab.store.choice import choose_model, resolve_model
from textlab.store.files import load_tensors, save_model
from textlab.store.places import list_models


def _save(path, force=False, kind="charlm", value=1.0):
    card = ModelCard(kind=kind, config={"hidden": 4}, data={"corpus": "x"}, metrics={"loss": 1.5})
    return save_model(path, card, {"w": torch.full((2, 4), value)}, vocab_tsv="a\t1\n", force=force)


def test_save_load_round_trip(tmp_path):
    path = _save(tmp_path / "m")
    card = read_card(path)
    assert card.kind == "charlm" and card.config == {"hidden": 4} and card.created
    tensors = load_tensors(path, {"w": (2, 4)})
    assert torch.equal(tensors["w"], torch.ones(2, 4))
    assert (path / "vocab.tsv").read_text() == "a\t1\n"
    update_card(path, metrics={"test_acc": 0.9})
    assert read_card(path).metrics == {"loss": 1.5, "test_acc": 0.9}


def test_existing_model_needs_force_and_is_replaced_whole(tmp_path):
    _save(tmp_path / "m")
    with pytest.raises(TextlabError, match="--force"):
        _save(tmp_path / "m", value=2.0)
    assert torch.equal(load_tensors(tmp_path / "m")["w"], torch.ones(2, 4))
    _save(tmp_path / "m", force=True, value=2.0)
    assert torch.equal(load_tensors(tmp_path / "m")["w"], torch.full((2, 4), 2.0))
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temp dirs left behind


def test_pickle_swapped_in_for_weights_is_refused_and_never_run(tmp_path):
    path = _save(tmp_path / "m")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (path / "weights.safetensors").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(DataError, match="safetensors"):
        load_tensors(path)
    assert not marker.exists()


def test_shape_mismatch_and_unknown_card_fields(tmp_path):
    path = _save(tmp_path / "m")
    with pytest.raises(DataError, match="shape"):
        load_tensors(path, {"w": (3, 4)})
    raw = json.loads((path / "config.json").read_text())
    raw["surprise"] = 1
    (path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match="unknown fields"):
        read_card(path)


@dataclass
class TinyConfig:
    vocab_size: int = 10
    dim: int = 4
    tied: bool = False


def test_config_from_dict_refuses_absurd_and_unknown_values():
    assert config_from_dict(TinyConfig, {"dim": 8}, "m").dim == 8
    with pytest.raises(DataError, match="outside"):
        config_from_dict(TinyConfig, {"vocab_size": 10**12}, "m", limits={"vocab_size": (1, 10**7)})
    with pytest.raises(DataError, match="unknown"):
        config_from_dict(TinyConfig, {"heads": 2}, "m")
    with pytest.raises(DataError, match="number"):
        config_from_dict(TinyConfig, {"dim": "8"}, "m")
    with pytest.raises(DataError, match="true or false"):
        config_from_dict(TinyConfig, {"tied": 1}, "m")


def test_resolve_model_by_name_path_and_newest(textlab_home, tmp_path):
    with pytest.raises(TextlabError, match="no charlm model"):
        resolve_model(None, "charlm")
    _save(textlab_home / "models" / "first")
    _save(textlab_home / "models" / "second")
    _save(textlab_home / "models" / "vectors", kind="word2vec")
    assert resolve_model("first", "charlm").name == "first"
    assert resolve_model(str(textlab_home / "models" / "second"), "charlm").name == "second"
    assert resolve_model(None, "word2vec").name == "vectors"
    with pytest.raises(TextlabError, match="not a charlm"):
        resolve_model("vectors", "charlm")
    with pytest.raises(TextlabError, match="no model named"):
        resolve_model("nope", "charlm")
    assert len(list_models()) == 3


def test_choose_model_prefers_a_fitting_user_model_then_a_fitting_shipped_one(textlab_home, fake_shipped):
    def saved(name, created, lang):
        card = ModelCard(kind="word2vec", config={"lang": lang}, created=created)
        return save_model(textlab_home / "models" / name, card, {"w": torch.zeros(1)})

    choice = choose_model(None, "word2vec")  # nothing in the store: the first shipped model, said so
    assert (choice.name, choice.implicit, choice.shipped) == ("shipped:en", True, True)
    assert choice.notice() == "using shipped:en (word2vec, English, shipped with textlab)"
    saved("old-zh", "2026-01-01T00:00:00+00:00", "zh")
    saved("new-en", "2026-01-02T00:00:00+00:00", "en")
    assert choose_model(None, "word2vec").name == "new-en"
    chinese = choose_model(None, "word2vec", fits=lambda path, card: card.config["lang"] == "zh", fit_reason="in Chinese")
    assert chinese.notice() == "using old-zh (word2vec, Chinese, newest in the store in Chinese)"
    french = choose_model(None, "word2vec", fits=lambda path, card: card.config["lang"] == "fr",
                          shipped_order=("zh",))
    assert french.name == "new-en" and french.implicit  # nothing fits: the newest, whose checks then speak
    assert choose_model(None, "word2vec", fits=lambda p, c: p.name == "zh", shipped_order=("zh",)).name == "shipped:zh"
    named = choose_model("old-zh", "word2vec")
    assert not named.implicit and named.notice() is None and named.path == textlab_home / "models" / "old-zh"
    with pytest.raises(TextlabError, match=r"^no sentiment model yet: train one with 'textlab train-sentiment imdb'$"):
        choose_model(None, "sentiment")


def test_key_metric_is_one_readable_figure_per_kind():
    def card(kind, config=None, metrics=None):
        return ModelCard(kind=kind, config=config or {}, metrics=metrics or {})

    assert key_metric(card("word2vec", {"vocab_size": 71290, "dim": 100})) == "71,290 words x 100"
    assert key_metric(card("word2vec", {"vocab_size": 71290, "dim": 100}, {"analogy_accuracy": 0.3217})) == \
        "71,290 words x 100, analogy 32.2%"
    assert key_metric(card("charlm", metrics={"val_loss": 1.41234, "val_bpc": 2.0376, "threads": {"x": 1}})) == \
        "val loss 1.412, 2.038 bpc"
    assert key_metric(card("sentiment", metrics={"valid_accuracy": 0.9089, "history": [1, 2]})) == "valid acc 90.9%"
    assert key_metric(card("wordlm", metrics={"val_perplexity": 241.23, "val_unigram_perplexity": 975.5})) == \
        "val ppl 241.2, unigram 976"
    assert key_metric(card("charlm")) == "-"


def test_models_lists_shipped_and_user_models_readably(cli, fake_shipped, textlab_home, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    long_name = "w2v-a-long-model-name-skipgram"
    save_word_model(textlab_home / "models" / long_name, *planted_vectors(EN_PAIRS, EN_OTHER), lang="en",
                    metrics={"analogy_accuracy": 0.3217, "threads": {"candidates": [1, 2]}},
                    created="2026-01-02T00:00:00+00:00")
    save_word_model(textlab_home / "models" / "older", *planted_vectors(EN_PAIRS, EN_OTHER), lang="en",
                    created="2026-01-01T00:00:00+00:00")
    result = cli("models")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("yours (newest first) are in ")  # a path: as long as it is
    assert all(len(line) <= 80 for line in lines[:-1]), lines
    rows = {line.split()[0]: line.rstrip() for line in lines[2:-1]}  # header, rule, rows, where yours are
    assert list(rows) == [long_name, "older", "shipped:shakespeare", "shipped:en", "shipped:zh"]  # newest first
    assert rows[long_name].split(None, 3)[1:] == ["word2vec", "en", "20 words x 16, analogy 32.2%"]
    assert rows["shipped:shakespeare"].split(None, 3)[1:] == ["charlm", "-", "val loss 1.500, 2.160 bpc"]
    assert "{" not in result.stdout and "threads" not in result.stdout
    listed = json.loads(cli("models", "--kind", "word2vec", "--json").stdout)
    assert [(m["name"], m["shipped"]) for m in listed] == [(long_name, False), ("older", False), ("shipped:en", True),
                                                          ("shipped:zh", True)]
    assert listed[0]["metrics"]["analogy_accuracy"] == 0.3217 and listed[0]["created"].startswith("2026-01-02")
    assert cli("models", "--kind", "nope").exit_code == 2


def test_models_rm_and_mv(cli, fake_shipped, textlab_home):
    models = textlab_home / "models"
    save_word_model(models / "a", *planted_vectors(EN_PAIRS, EN_OTHER), lang="en")
    save_word_model(models / "b", *planted_vectors(EN_PAIRS, EN_OTHER), lang="en")
    result = cli("models", "mv", "a", "b")
    assert result.exit_code == 1 and "already exists" in result.stderr and (models / "a").is_dir()
    result = cli("models", "mv", "a", "c")
    assert result.exit_code == 0 and result.stderr.splitlines() == [f"renamed a to c ({models / 'c'})"]
    assert not (models / "a").exists() and json.loads((models / "c" / "config.json").read_text())["name"] == "c"
    assert cli("neighbors", "king", "--model", "c").exit_code == 0
    result = cli("models", "rm", "b")
    assert result.exit_code == 0 and result.stderr.splitlines() == [f"removed b ({models / 'b'})"]
    assert sorted(p.name for p in models.iterdir()) == ["c"]  # nothing half-deleted left behind
    for args, message in [(["models", "rm", "shipped:en"], "shipped:en is shipped with textlab; it cannot be removed"),
                          (["models", "rm", "b"], "no model named 'b'"),
                          (["models", "mv", "c", "../escape"], "is not a model name"),
                          (["models", "rm", ".."], "is not a model name")]:
        result = cli(*args)
        assert result.exit_code != 0 and len(result.stderr.splitlines()) == 1 and message in result.stderr, args
    assert (fake_shipped / "word2vec" / "en" / "config.json").is_file()


def test_an_extra_file_given_as_a_function_is_made_after_the_weights(tmp_path):
    import numpy as np

    from textlab.store.files import save_model

    order = []

    def drawn():
        order.append(sorted(p.name for p in tmp_path.rglob("*") if p.is_file()))
        return b"late"

    save_model(tmp_path / "m", ModelCard(kind="word2vec", config={}), {"w": np.zeros(3, np.float32)},
               extra_files={"late.bin": drawn, "none.bin": lambda: None, "early.bin": b"early"})
    assert any(name == "weights.safetensors" for name in order[0])  # the weights were on disk first
    assert (tmp_path / "m" / "late.bin").read_bytes() == b"late"
    assert (tmp_path / "m" / "early.bin").read_bytes() == b"early" and not (tmp_path / "m" / "none.bin").exists()
