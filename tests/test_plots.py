from __future__ import annotations

from textlab.plots import save_training_curve


def test_training_curve_is_a_png(tmp_path):
    out = save_training_curve(tmp_path / "curve.png", {"train": [2.0, 1.5, 1.2], "valid": [2.1, 1.7, 1.5]},
                              "char LM", secondary={"valid acc": [0.5, 0.6, 0.7]})
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_nothing_to_plot(tmp_path):
    assert save_training_curve(tmp_path / "c.png", {"train": []}, "empty") is None
    assert not (tmp_path / "c.png").exists()
