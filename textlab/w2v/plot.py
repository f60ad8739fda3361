"""A labelled 2-D picture of word vectors (t-SNE or PCA), in a font that renders the labels
(an installed CJK font for Chinese words, or ``--font NAME|PATH``)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from textlab.atomic import atomic_open
from textlab.errors import TextlabError
from textlab.plots import CJK_FONT_FIX, Font, find_cjk_font, missing_glyphs, quiet_font_warnings, resolve_font
from textlab.w2v.keyed_vectors import KeyedVectors

DEFAULT_FONT = "DejaVu Sans"


@contextlib.contextmanager
def working(description: str) -> Iterator[None]:
    """A spinner with the elapsed time on stderr while a step of unknown length runs."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from textlab.runtime.output import console
    from textlab.runtime.progress import progress_enabled

    shown = progress_enabled() and console.is_terminal  # nothing to animate in a log file
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                  console=console, transient=True, disable=not shown) as progress:
        progress.add_task(description, total=None)
        yield


def project(vectors: np.ndarray, method: str = "tsne", seed: int = 1) -> np.ndarray:
    """2-D coordinates: t-SNE (perplexity adapted to small sets) or PCA.

    t-SNE runs with one OpenMP thread unless the user fixed the count (``TEXTLAB_THREADS`` /
    ``OMP_NUM_THREADS``): on a 2-core machine shared with a busy process, sklearn's two
    spinning threads took 24 s for 300 words where one took 1 s (see ``textlab.threads``)."""
    if method == "pca" or len(vectors) < 5:
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(vectors)
    from sklearn.manifold import TSNE

    from textlab.threads import library_threads

    perplexity = float(min(30, max(2, (len(vectors) - 1) // 3)))
    with library_threads("openmp"):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                    metric="cosine").fit_transform(vectors)


def label_font(words: Sequence[str], font: str | None = None) -> tuple[Font | None, str]:
    """The font for the labels and a warning (one line, or ""): ``font`` (``--font NAME|PATH``)
    when given, else an installed CJK font when a label is Chinese, else matplotlib's default
    (None). The warning names what would show as boxes and how to fix it."""
    from textlab.text import detect_lang

    text = "".join(words)
    if font:
        chosen = resolve_font(font)
        missing = missing_glyphs(chosen, text)
        if missing:
            shown = " ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
            return chosen, f"font {chosen.name} has no glyph for {len(missing)} character(s) of the labels: {shown}"
        return chosen, ""
    if detect_lang(text) != "zh":
        return None, ""
    chosen = find_cjk_font()
    if chosen is None:
        return None, f"no installed font renders Chinese, so the labels show as boxes; {CJK_FONT_FIX}"
    return chosen, ""


def plot_words(vectors: KeyedVectors, output: Path, words: Sequence[str] | None = None, top: int = 300,
               method: str = "tsne", seed: int = 1, font: str | None = None) -> dict:
    """Draw the map to ``output`` (format from the suffix); returns what a caller reports:
    ``words``, ``method``, ``font``, ``seconds`` and ``warning`` (one line, or "")."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    chosen = list(words) if words else vectors.words[:top]
    ids = list(dict.fromkeys(vectors.id_of(w) for w in chosen))  # names an unknown word; each word once
    if len(ids) < 2:
        raise TextlabError("plot-w2v needs at least 2 different words")
    chosen = [vectors.words[i] for i in ids]
    labels = [vectors.words[i] for i in ids]  # as the vocabulary spells them (case folding)
    typeface, warning = label_font(labels, font)
    used = "t-SNE" if method == "tsne" and len(chosen) >= 5 else "PCA"
    started = time.perf_counter()
    with working(f"{used} of {len(chosen)} words"):
        points = project(vectors.unit[ids], method, seed)
    seconds = time.perf_counter() - started
    size = max(8.0, min(24.0, 4.0 + len(chosen) ** 0.5))
    properties = FontProperties(fname=typeface.path, size=9) if typeface else FontProperties(size=9)
    with quiet_font_warnings():
        figure, axes = plt.subplots(figsize=(size, size))
        try:
            axes.scatter(points[:, 0], points[:, 1], s=6, color="tab:blue", alpha=0.6)
            for (x, y), label in zip(points, labels):
                axes.annotate(label, (x, y), xytext=(2, 2), textcoords="offset points", fontproperties=properties)
            axes.set_title(f"{len(chosen)} words, {used}")
            axes.set_xticks([])
            axes.set_yticks([])
            figure.tight_layout()
            with atomic_open(Path(output), "wb", what="the plot") as handle:
                figure.savefig(handle, format=Path(output).suffix.lstrip(".").lower() or "png", dpi=120)
        except (OSError, ValueError) as exc:
            raise TextlabError(f"cannot write the plot {output}: {exc}") from exc
        finally:
            plt.close(figure)
    return {"words": len(chosen), "method": used, "font": typeface.name if typeface else f"{DEFAULT_FONT} (default)",
            "seconds": round(seconds, 2), "warning": warning}
