from __future__ import annotations

import pytest

from tests.fakes import make_font
from textlab.plots import Font, find_cjk_font, missing_glyphs, resolve_font, save_training_curve


def test_training_curve_is_a_png(tmp_path):
    out = save_training_curve(tmp_path / "curve.png", {"train": [2.0, 1.5, 1.2], "valid": [2.1, 1.7, 1.5]},
                              "char LM", secondary={"valid acc": [0.5, 0.6, 0.7]})
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_nothing_to_plot(tmp_path):
    assert save_training_curve(tmp_path / "c.png", {"train": []}, "empty") is None
    assert not (tmp_path / "c.png").exists()


# ----------------------------------------------------------------------------- fonts

CHINESE_WORDS = "国王,王后,男人,女人,王子,公主"


@pytest.fixture
def han_font(tmp_path):
    return make_font(tmp_path / "han.ttf", CHINESE_WORDS.replace(",", "") + "中文的是一")


@pytest.fixture
def installed(monkeypatch):
    """matplotlib's list of installed fonts, replaced by the files given."""
    from matplotlib import font_manager

    def install(*paths):
        entries = [font_manager.FontEntry(fname=str(p), name=name) for name, p in paths]
        monkeypatch.setattr(font_manager.fontManager, "ttflist", entries)

    return install


def test_a_cjk_font_is_found_by_its_glyphs_not_only_its_name(installed, han_font, tmp_path):
    from matplotlib import font_manager

    dejavu = font_manager.findfont("DejaVu Sans")
    installed(("DejaVu Sans", dejavu))
    assert find_cjk_font() is None
    impostor = make_font(tmp_path / "impostor.ttf", "abc")
    installed(("DejaVu Sans", dejavu), ("Noto Sans CJK SC", impostor), ("WenQuanYi Zen Hei", han_font))
    assert find_cjk_font() == Font("WenQuanYi Zen Hei", str(han_font))  # the first name lacks the glyphs
    installed(("Textlab Hei", han_font))
    assert find_cjk_font() == Font("Textlab Hei", str(han_font))  # an unknown name with a CJK tag
    assert missing_glyphs(Font("x", dejavu), "ab 国王") == ["国", "王"]


def test_font_option_takes_a_name_or_a_file(installed, han_font):
    from textlab.errors import UsageError

    assert resolve_font(str(han_font)) == Font("Textlab Test Han", str(han_font))
    installed(("Textlab Test Han", han_font))
    assert resolve_font("textlab test han").path == str(han_font)
    with pytest.raises(UsageError, match="no installed font named 'Nope Sans'.*apt install fonts-noto-cjk"):
        resolve_font("Nope Sans")
    with pytest.raises(UsageError, match="no such font file"):
        resolve_font("/no/such/font.ttf")


def test_chinese_plot_without_a_cjk_font_warns_once(cli, fake_shipped, tmp_path, monkeypatch, recwarn):
    import textlab.w2v.plot

    monkeypatch.setattr(textlab.w2v.plot, "find_cjk_font", lambda: None)
    result = cli("plot-w2v", "--words", CHINESE_WORDS, "-o", str(tmp_path / "zh.png"))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "using shipped:zh (word2vec, Chinese, shipped with textlab)"
    assert lines[1] == ("warning: no installed font renders Chinese, so the labels show as boxes; install one "
                        "(e.g. `apt install fonts-noto-cjk`) or pass --font PATH")
    assert lines[2].startswith("plotted 6 words (t-SNE, ") and len(lines) == 3
    assert not [w for w in recwarn if "Glyph" in str(w.message)]  # matplotlib's per-glyph flood is silenced
    assert (tmp_path / "zh.png").read_bytes()[:4] == b"\x89PNG"


def test_chinese_plot_with_a_font_file(cli, fake_shipped, tmp_path, han_font):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib must not find a glyph missing
        result = cli("plot-w2v", "--words", CHINESE_WORDS, "--method", "pca", "--font", str(han_font),
                     "-o", str(tmp_path / "zh.svg"))
    assert result.exit_code == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("plotted 6 words (PCA, ") and last.endswith(f"font Textlab Test Han) to {tmp_path / 'zh.svg'}")
    assert "warning" not in result.stderr
    result = cli("plot-w2v", "--words", "国王,的,电影", "--method", "pca", "--font", str(han_font), "-o",
                 str(tmp_path / "more.png"))
    assert result.exit_code == 0
    assert "warning: font Textlab Test Han has no glyph for 2 character(s) of the labels: '电' '影'" in result.stderr


def test_a_word_named_twice_is_plotted_once(cli, fake_shipped, tmp_path):
    result = cli("plot-w2v", "--words", "国王,国王", "-o", str(tmp_path / "one.png"))
    assert result.exit_code == 1 and result.stderr.splitlines()[-1] == \
        "textlab: error: plot-w2v needs at least 2 different words"
    result = cli("plot-w2v", "--words", " , ", "-o", str(tmp_path / "none.png"))
    assert result.exit_code == 2 and "--words: no word given" in result.stderr
