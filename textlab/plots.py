"""Pictures people would rather look at than read: training curves (headless matplotlib), and
the fonts that render their labels (Chinese included)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from textlab.atomic import atomic_write_bytes

CURVE_FILE = "curve.png"


def save_training_curve(path: Path, series: Mapping[str, Sequence[float]], title: str, **options) -> Path | None:
    """Write :func:`render_training_curve`'s PNG atomically; None when there is nothing to plot."""
    png = render_training_curve(series, title, **options)
    if png is None:
        return None
    atomic_write_bytes(Path(path), png, what="the training curve")
    return Path(path)


def render_training_curve(
    series: Mapping[str, Sequence[float]],
    title: str,
    xlabel: str = "epoch",
    secondary: Mapping[str, Sequence[float]] | None = None,
    secondary_label: str = "accuracy",
    x: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
) -> bytes | None:
    """Plot each named series (e.g. train/valid loss per epoch) as PNG bytes, to be saved with
    a model (``curve.png``). ``secondary`` series (e.g. validation accuracy) go on a right-hand
    axis. ``x`` gives the positions of the points (e.g. fractional epochs), for all series or
    per series name (a training loss read every few steps beside a validation loss per
    epoch); default 1, 2, 3... Series of many points are drawn as lines without markers.
    Returns None when there is nothing to plot (no series with at least one point).
    """
    if not any(len(values) for values in series.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    try:
        for name, values in series.items():
            if len(values):
                dense = len(values) > 60
                axis.plot(_positions(x, values, name), list(values), marker=None if dense else "o", markersize=3,
                          linewidth=1.0 if dense else 1.5, label=name)
        if x is None:
            from matplotlib.ticker import MaxNLocator

            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(xlabel)
        axis.set_ylabel("loss")
        axis.grid(True, alpha=0.3)
        handles, labels = axis.get_legend_handles_labels()
        if secondary and any(len(v) for v in secondary.values()):
            right = axis.twinx()
            for name, values in secondary.items():
                if len(values):
                    right.plot(_positions(x, values, name), list(values), linestyle="--", marker="s", markersize=3,
                               color="tab:green", label=name)
            right.set_ylabel(secondary_label)
            more_handles, more_labels = right.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        axis.legend(handles, labels, loc="best")
        axis.set_title(title)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def _positions(x, values: Sequence[float], name: str = "") -> list[float]:
    if isinstance(x, Mapping):
        x = x.get(name)
    return list(range(1, len(values) + 1)) if x is None else list(x)[: len(values)]


# --------------------------------------------------------------------------- fonts

#: Fonts known to render Chinese, best first; any installed font whose name carries one of
#: :data:`CJK_TAGS` and that has the glyphs also counts.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Noto Serif CJK SC", "Source Han Sans SC",
             "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
             "PingFang SC", "Heiti SC", "Hiragino Sans GB", "AR PL UMing CN", "AR PL UKai CN", "Droid Sans Fallback",
             "Arial Unicode MS")
CJK_TAGS = ("CJK", "WenQuanYi", "Hei", "Song", "Ming", "Kai", "Han Sans", "Han Serif", "YaHei", "Fallback")
#: Characters a font must have to count as rendering Chinese.
CJK_PROBE = "中文的是一"
#: What to do when no installed font renders Chinese (one warning line names it).
CJK_FONT_FIX = "install one (e.g. `apt install fonts-noto-cjk`) or pass --font PATH"


@dataclass(frozen=True)
class Font:
    """A font file and the name it goes by."""

    name: str
    path: str


def missing_glyphs(font: Font, text: str) -> list[str]:
    """The distinct characters of ``text`` (white space aside) that ``font`` has no glyph for."""
    from matplotlib.ft2font import FT2Font

    charmap = FT2Font(font.path).get_charmap()
    return [c for c in dict.fromkeys(text) if not c.isspace() and ord(c) not in charmap]


def _installed_fonts() -> dict[str, str]:
    """Installed font names (as matplotlib knows them) → a file of that font."""
    from matplotlib import font_manager

    fonts: dict[str, str] = {}
    for entry in sorted(font_manager.fontManager.ttflist, key=lambda e: (e.name, e.style != "normal", e.weight != 400)):
        fonts.setdefault(entry.name, entry.fname)
    return fonts


def find_cjk_font() -> Font | None:
    """An installed font that renders Chinese (:data:`CJK_FONTS` first), or None."""
    installed = _installed_fonts()
    candidates = [n for n in CJK_FONTS if n in installed]
    candidates += [n for n in sorted(installed) if n not in candidates and any(t in n for t in CJK_TAGS)]
    for name in candidates:
        font = Font(name, installed[name])
        try:
            if not missing_glyphs(font, CJK_PROBE):
                return font
        except (OSError, RuntimeError):  # an unreadable font file: try the next one
            continue
    return None


def resolve_font(spec: str) -> Font:
    """``--font NAME|PATH``: an installed font's name (any case) or a font file."""
    from textlab.errors import DataError, UsageError

    path = Path(spec).expanduser()
    if path.is_file() or "/" in spec or path.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"):
        if not path.is_file():
            raise UsageError(f"--font: no such font file: {spec}")
        font = Font(path.stem, str(path))
        try:
            from matplotlib.ft2font import FT2Font

            font = Font(FT2Font(str(path)).family_name or path.stem, str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            raise DataError(f"--font: {spec} is not a font file matplotlib can read ({exc})") from None
        return font
    installed = _installed_fonts()
    by_lower = {name.lower(): name for name in installed}
    if spec.lower() in by_lower:
        name = by_lower[spec.lower()]
        return Font(name, installed[name])
    cjk = find_cjk_font()
    hint = f"an installed font that renders Chinese: {cjk.name!r}" if cjk else f"none renders Chinese; {CJK_FONT_FIX}"
    raise UsageError(f"--font: no installed font named {spec!r} ({hint})")


@contextlib.contextmanager
def quiet_font_warnings() -> Iterator[None]:
    """Silence matplotlib's per-glyph warnings (``Glyph 20013 ... missing from font(s) DejaVu
    Sans``, hundreds for a Chinese plot) and its font-search log while drawing; callers say
    once what is missing (:func:`missing_glyphs`)."""
    import logging
    import warnings

    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*Glyph .* missing from")
            warnings.filterwarnings("ignore", message=r"(?s).*findfont")
            yield
    finally:
        logger.setLevel(level)
