"""The newcomer's tour: every feature on data that ships with textlab, in a few minutes.

Each step is a function that returns a :class:`StepResult` (a one-line key figure plus the
lines to show); :func:`run_demo` runs them in order. Models are trained into a temporary
directory and nothing is left in the user's model store.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

EN_SAMPLE = "Don't <br />stop believing! This movie was GREAT &amp; the cast was wonderful."
ZH_SAMPLE = "我来到北京清华大学，今天天气很好。"
SENTIMENT_SAMPLES = [
    "A wonderful, moving film. The acting is superb and the story stays with you.",
    "Dull, predictable and far too long. I want my two hours back.",
    "这家酒店服务很好，房间干净，下次还会再来。",
    "房间又小又脏，服务态度很差，不推荐。",
]


@dataclass
class StepResult:
    name: str
    figure: str
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DemoSettings:
    quick: bool = False
    device: str = "auto"
    seed: int = 1
    charlm_minutes: float | None = None  # default: 0.6 quick, 2.0 full

    def __post_init__(self) -> None:
        if self.charlm_minutes is None:
            self.charlm_minutes = 0.6 if self.quick else 2.0

    @property
    def w2v_epochs(self) -> int:
        return 10 if self.quick else 20


def step_tokenize(settings: DemoSettings, workdir: Path) -> StepResult:
    from textlab.text import TokenizerOptions, tokenize_line

    english = tokenize_line(EN_SAMPLE, TokenizerOptions(lang="en"))
    chinese = tokenize_line(ZH_SAMPLE, TokenizerOptions(lang="zh"))
    return StepResult("tokenize", f"{len(english)} en / {len(chinese)} zh tokens", [
        f"en  before: {EN_SAMPLE}", f"en  after:  {' '.join(english)}",
        f"zh  before: {ZH_SAMPLE}", f"zh  after:  {' '.join(chinese)}",
    ])


def step_vocab(settings: DemoSettings, workdir: Path) -> StepResult:
    from textlab.data import resolve_corpus
    from textlab.text import TokenizerOptions, Vocab
    from textlab.text.corpus_tokens import count_corpus

    counter = count_corpus(resolve_corpus("tinyshakespeare"), TokenizerOptions(lang="en"))
    vocab = Vocab.from_counter(counter, size=5000, min_count=2)
    vocab.save(workdir / "vocab.tsv")
    top = ", ".join(vocab.words[1:11])
    return StepResult("vocabulary", f"{len(vocab) - 1:,} words, <unk> rate {vocab.unk_rate():.1%}", [
        f"tinyshakespeare: {sum(counter.values()):,} tokens, {len(counter):,} distinct; kept the 5,000 most frequent",
        f"most frequent: {top}",
    ])


def step_word2vec(settings: DemoSettings, workdir: Path) -> StepResult:
    from textlab.w2v.keyed_vectors import load_keyed_vectors
    from textlab.w2v.model import Word2VecConfig
    from textlab.w2v.pipeline import train_word2vec

    config = Word2VecConfig(arch="skipgram", dim=64, window=5, min_count=3, epochs=settings.w2v_epochs,
                            lang="en", seed=settings.seed)
    summary = train_word2vec("tinyshakespeare", config, workdir / "w2v", device=settings.device)
    vectors = load_keyed_vectors(workdir / "w2v")
    lines = []
    for word in ("king", "love"):
        if word in vectors:
            near = ", ".join(f"{w} {s:.2f}" for w, s in vectors.most_similar(word, k=5))
            lines.append(f"neighbours of {word}: {near}")
    if all(w in vectors for w in ("king", "man", "woman")):
        best = vectors.analogy("king", "man", "woman", k=3)
        lines.append("king - man + woman = " + ", ".join(f"{w} {s:.2f}" for w, s in best))
    rate = summary.get("words_per_second", 0)
    return StepResult("word2vec", f"{summary['vocab_size']:,} words, {rate:,.0f} words/s", lines)


def step_charlm(settings: DemoSettings, workdir: Path) -> StepResult:
    from textlab.charlm.data import CharCodec, load_char_data
    from textlab.charlm.sample import generate
    from textlab.charlm.pipeline import make_configs
    from textlab.charlm.train import train_charlm
    from textlab.runtime.device import pick_device

    device = pick_device(settings.device)
    data = load_char_data("tinyshakespeare")
    overrides = {"hidden": 256} if settings.quick and device.type == "cpu" else {}
    model_config, train_config = make_configs(len(data.alphabet), device.type, max_minutes=settings.charlm_minutes,
                                              seed=settings.seed, **overrides)
    result = train_charlm(data, model_config, train_config, device, log=lambda message: None)
    text = "".join(generate(result.model, CharCodec(data.alphabet), "ROMEO:", length=200, temperature=0.8))
    metrics = result.metrics
    return StepResult("char LSTM", f"val perplexity {metrics['val_perplexity']:.2f} ({metrics['val_bpc']:.2f} bpc)", [
        f"{metrics['parameters']:,} parameters, {metrics['minutes']:.1f} min, {metrics['train_chars_per_s']:,} chars/s",
        "sample from the seed 'ROMEO:':", *text.splitlines()[:8],
    ])


def step_sentiment(settings: DemoSettings, workdir: Path) -> StepResult:
    from textlab.sentiment.predict import Predictor, Router
    from textlab.sentiment.pretrained import shipped_models
    from textlab.sentiment.saved import load_sentiment

    shipped = shipped_models()
    router = Router({lang: Predictor(load_sentiment(path)) for lang, path in shipped.items()}, "auto")
    probabilities = router.score(router.encode(SENTIMENT_SAMPLES))
    lines = [f"{'positive' if p >= 0.5 else 'negative'} {p:.3f}  {text}" for text, p in zip(SENTIMENT_SAMPLES, probabilities)]
    return StepResult("sentiment", f"shipped models: {', '.join(sorted(shipped))}", lines)


STEPS: list[tuple[str, Callable[[DemoSettings, Path], StepResult]]] = [
    ("tokenize", step_tokenize),
    ("vocabulary", step_vocab),
    ("word2vec", step_word2vec),
    ("char LSTM", step_charlm),
    ("sentiment", step_sentiment),
]


def run_demo(settings: DemoSettings, on_result: Callable[[StepResult], None] = lambda r: None) -> list[StepResult]:
    """Run every step in a temporary directory; ``on_result`` sees each result as it comes."""
    from textlab.runtime.seeding import seed_everything

    seed_everything(settings.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="textlab-demo-") as tmp:
        for _name, step in STEPS:
            start = time.perf_counter()
            result = step(settings, Path(tmp))
            result.seconds = time.perf_counter() - start
            on_result(result)
            results.append(result)
    return results
