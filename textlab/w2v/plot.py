"""A labelled 2-D picture of word vectors (t-SNE or PCA), with a font that renders Chinese when
one is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from textlab.atomic import atomic_open
from textlab.errors import TextlabError
from textlab.w2v.keyed_vectors import KeyedVectors

#: Fonts known to cover CJK, best first; any installed font whose name mentions CJK also counts.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN",
             "AR PL UKai CN", "Droid Sans Fallback", "Arial Unicode MS")


def cjk_font() -> str | None:
    """The name of an installed font that renders Chinese, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    for name in sorted(installed):
        if any(tag in name for tag in ("CJK", "Hei", "Song", "Ming", "Kai", "Han Sans", "Han Serif")):
            return name
    return None


def project(vectors: np.ndarray, method: str = "tsne", seed: int = 1) -> np.ndarray:
    """2-D coordinates: t-SNE (perplexity adapted to small sets) or PCA."""
    if method == "pca" or len(vectors) < 5:
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(vectors)
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(vectors) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine").fit_transform(vectors)


def plot_words(vectors: KeyedVectors, output: Path, words: Sequence[str] | None = None, top: int = 300,
               method: str = "tsne", seed: int = 1) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = list(words) if words else vectors.words[:top]
    if len(chosen) < 2:
        raise TextlabError("plot-w2v needs at least 2 words")
    ids = [vectors.id_of(w) for w in chosen]  # names an unknown word
    points = project(vectors.unit[ids], method, seed)
    font = cjk_font()
    has_cjk = any(any("\u3400" <= ch <= "\u9fff" for ch in w) for w in chosen)
    size = max(8.0, min(24.0, 4.0 + len(chosen) ** 0.5))
    figure, axes = plt.subplots(figsize=(size, size))
    axes.scatter(points[:, 0], points[:, 1], s=6, color="tab:blue", alpha=0.6)
    for (x, y), word in zip(points, chosen):
        axes.annotate(word, (x, y), xytext=(2, 2), textcoords="offset points", fontsize=9,
                      fontfamily=[font, "DejaVu Sans"] if font else None)
    axes.set_title(f"{len(chosen)} words, {'t-SNE' if method == 'tsne' and len(chosen) >= 5 else 'PCA'}")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    try:
        with atomic_open(Path(output), "wb") as handle:
            figure.savefig(handle, format=Path(output).suffix.lstrip(".").lower() or "png", dpi=120)
    except (OSError, ValueError) as exc:
        raise TextlabError(f"cannot write the plot {output}: {exc}") from exc
    finally:
        plt.close(figure)
    warning = "no CJK font installed: Chinese labels may show as boxes" if has_cjk and not font else ""
    return {"words": len(chosen), "method": method, "font": font or "DejaVu Sans (default)", "warning": warning}
