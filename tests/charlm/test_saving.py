"""A saved char LM's card stays readable: curve.png gets every training-loss point, the card a sample."""

from __future__ import annotations

import json

from textlab.charlm.model import CharLM, CharLMConfig
from textlab.charlm.saving import CARD_CURVE_POINTS, load_charlm, save_charlm, thin


def test_thin_keeps_the_ends_and_at_most_the_limit():
    for n in (1, 2, 499, 500, 501, 999, 5613):
        points = list(range(n))
        kept = thin(points, 500)
        assert len(kept) == min(n, 500) if n <= 500 else len(kept) <= 500
        assert kept[0] == 0 and kept[-1] == n - 1
        assert kept == sorted(set(kept))
    assert thin(list(range(10)), 500) == list(range(10))


def test_the_card_holds_a_sample_of_a_long_curve(tmp_path):
    model = CharLM(CharLMConfig(vocab_size=3, embed_dim=4, hidden=8, layers=1))
    curve = [[i / 1000, 4.0 - i / 2000] for i in range(5613)]
    history = [{"epoch": 1.0, "train_loss": 1.5, "val_loss": 1.6}]
    save_charlm(tmp_path / "m", model, ["a", "b", "c"], {"corpus": "x"}, {"val_loss": 1.6},
                {"curve": curve, "history": history})
    card = json.loads((tmp_path / "m" / "config.json").read_text())
    saved = card["extra"]["training"]["curve"]
    assert len(saved) <= CARD_CURVE_POINTS and saved[0] == curve[0] and saved[-1] == curve[-1]
    assert card["extra"]["training"]["history"] == history
    assert (tmp_path / "m" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert load_charlm(tmp_path / "m")[0].config.hidden == 8
