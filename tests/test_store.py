from __future__ import annotations

import json
import pickle
from dataclasses import dataclass

import pytest
import torch

from textlab.errors import DataError, TextlabError
from textlab.store import (
    ModelCard, config_from_dict, list_models, load_tensors, read_card, resolve_model, save_model, update_card,
)


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
