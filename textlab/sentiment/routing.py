"""Lines to models and results to lines, without torch: the :class:`Router` that sends each
line to the model of its language, the test for an input that ended within its first batch
(:func:`whole_input`), and the output format. The scorers it routes to are the torch
:class:`textlab.sentiment.predict.Predictor` or the numpy :class:`textlab.sentiment.light.LightPredictor`
(both have ``lang``, ``name``, ``device_type``, ``encode`` and ``launch``)."""

from __future__ import annotations

import itertools
import json
from typing import Callable, Iterable, Iterator, Sequence, TextIO

from textlab.text import detect_lang

LABELS = ("negative", "positive")
#: Texts scored together: small on the CPU (worker processes share the cores, and a forward pass
#: over fewer rows keeps the LSTM's working set in cache), large on a GPU. Measured on one thread
#: of the AMD EPYC, validation reviews, rows per pass 64 / 128 / 256 / 512: the English model in
#: bf16 1,532 / 1,529 / 1,215 / 1,161 reviews/s (fp32 909 / 850 / 760 / 734), the Chinese 5,122 /
#: 5,146 / 5,089 / 3,737, the numpy scorer 655 / 614 / 434 / 443.
CHUNK = {"cpu": 64, "cuda": 4096}


EncodedLine = tuple  # (model key, EncodedText) for one line, or None for a blank line

#: What :class:`Router` warns about (the names sort the warnings: another model's first).
OTHER_MODEL, READ_AS = "other-model", "read-as"


class Router:
    """Sends each text to the predictor for its language (``lang``: ``auto`` detects it per
    line, ``en``/``zh`` fixes it); ``predictors`` are keyed by the language of their model. A
    line whose language has no predictor goes to the first one, and the first such line of each
    language is reported once (:meth:`report`): a model is never applied silently to text in
    another language; nor is a line read as the ``lang`` given when its script says otherwise.
    ``encode`` (tokenizing) and ``score`` (the model, lines of similar length together) are
    separate steps."""

    def __init__(self, predictors: dict, lang: str = "auto",
                 warn: Callable[[str], None] | None = None):
        self.predictors = predictors
        self.lang = lang
        self.warn = warn
        # what to warn about, not yet reported: (OTHER_MODEL, a language seen without a model of
        # its own) or (READ_AS, a script --lang read as another language); worker processes hand
        # theirs to the parent, which reports each once
        self.pending: set[tuple[str, str]] = set()
        self.reported: set[tuple[str, str]] = set()

    def warm_up(self) -> None:
        """Load the English tokenizer (a slow first import). jieba stays lazy: it loads its
        dictionary in the process that meets the first Chinese line."""
        for predictor in self.predictors.values():
            if predictor.lang == "en":
                predictor.encode("warm up")

    def on_cpu(self) -> bool:
        return all(p.device_type == "cpu" for p in self.predictors.values())

    def describe(self) -> str:
        """One line: which model answers for which language."""
        from textlab.store.shipped import SHIPPED_PREFIX

        def who(p) -> str:
            return p.name if p.name.startswith(SHIPPED_PREFIX) else f"{p.name} (user model)"

        return "sentiment: " + ", ".join(f"{lang} -> {who(p)}" for lang, p in self.predictors.items())

    def pick(self, text: str) -> str:
        script = detect_lang(text)
        lang = script if self.lang == "auto" else self.lang
        if lang != script:
            self._note((READ_AS, script))
        if lang in self.predictors:
            return lang
        self._note((OTHER_MODEL, lang))
        return next(iter(self.predictors))

    def _note(self, warning: tuple[str, str]) -> None:
        if warning not in self.reported:
            self.pending.add(warning)

    def report(self) -> None:
        """Warn once per language about lines answered by a model of another language, and once
        per script about lines ``--lang`` read as another language."""
        for what, lang in sorted(self.pending - self.reported):
            if self.warn is not None:
                self.warn(self._warning(what, lang))
            self.reported.add((what, lang))
        self.pending.clear()

    def _warning(self, what: str, lang: str) -> str:
        if what == READ_AS:
            return (f"sentiment: warning: {lang} lines are read as {self.lang} (--lang {self.lang}); "
                    "--lang auto gives each line the model of its own script")
        key = next(iter(self.predictors))
        article = "an" if key == "en" else "a"
        return (f"sentiment: warning: {lang} lines are answered by {self.predictors[key].name}, "
                f"{article} {key} model (no {lang} model in use; without --model each language gets its own)")

    def encode(self, texts: Sequence[str]) -> list[EncodedLine | None]:
        result: list[EncodedLine | None] = []
        for text in texts:
            if not text.strip():
                result.append(None)
                continue
            key = self.pick(text)
            result.append((key, self.predictors[key].encode(text)))
        return result

    def score(self, encoded: Sequence[EncodedLine | None], chunk: int | None = None) -> list[float | None]:
        """Probabilities in the order of ``encoded``: every chunk is launched first, then the
        results are read (on CUDA the device works while the next chunk is being prepared)."""
        results: list[float | None] = [None] * len(encoded)
        groups: dict[str, list[int]] = {}
        for i, item in enumerate(encoded):
            if item is not None:
                groups.setdefault(item[0], []).append(i)
        launched = []
        for key, index in groups.items():
            predictor = self.predictors[key]
            size = chunk or CHUNK.get(predictor.device_type, CHUNK["cpu"])
            index.sort(key=lambda i: len(encoded[i][1].sequence))  # similar lengths together
            for start in range(0, len(index), size):
                part = index[start: start + size]
                launched.append((part, *predictor.launch([encoded[i][1] for i in part])))
        for part, probabilities, order in launched:
            for row, p in zip(order.tolist(), probabilities.tolist()):
                results[part[row]] = p
        return results

    def probabilities(self, texts: Sequence[str]) -> list[float | None]:
        return self.score(self.encode(texts))


#: The most lines the numpy scorer takes (an input that ends within its first batch). With the
#: shipped English model (LM-initialised 1x256 LSTM over 96 words) through `textlab sentiment`:
#: 250 validation reviews take 0.91 s in numpy (~540 reviews/s after a 0.45 s start), 500 take
#: 2.08 s and 800 2.29 s through torch (its ~1.4 s import and precision probe, then ~2,000/s on two
#: cores): numpy stays ahead to about 1,000 lines (AMD EPYC, load ~1). 512, with a margin for
#: slower CPUs: the numpy scorer's time grows with the input, torch's start is paid once.
LIGHT_MAX_LINES = 512


def whole_input(batches: Iterable[list[str] | None], max_lines: int | None = None) -> tuple[Iterator[list[str] | None], bool]:
    """``(the same batches, whether that is the whole input)``: True when the input ended within
    its first batch (``echo "..." | textlab sentiment``) and that batch has at most ``max_lines``
    lines. Such an input is scored in this process: starting worker processes would cost more
    than the few lines they would share."""
    batches = iter(batches)
    head = list(itertools.islice(batches, 2))
    whole = len(head) == 1 and head[0] is not None and (max_lines is None or len(head[0]) <= max_lines)
    return itertools.chain(head, batches), whole


def in_process(router: Router, batches: Iterable[list[str] | None]) -> Iterator[tuple[list[str], list[float | None]]]:
    """``(batch, probabilities)`` scored in this process, one batch after another."""
    for batch in batches:
        if batch is not None:
            probabilities = router.probabilities(batch)
            router.report()
            yield batch, probabilities


def format_result(text: str, probability: float | None, as_json: bool) -> str:
    if probability is None:
        return json.dumps({"label": None, "probability": None, "positive": None}) if as_json else ""
    label = LABELS[int(probability >= 0.5)]
    confidence = probability if probability >= 0.5 else 1.0 - probability
    if as_json:
        return json.dumps({"label": label, "probability": round(confidence, 4),
                           "positive": round(probability, 4)}, ensure_ascii=False)
    return f"{label}\t{confidence:.4f}"


def predict_stream(results: Iterable[tuple[list[str], list[float | None]]], as_json: bool, out: TextIO) -> int:
    """Print one result line per input line, flushing after each batch."""
    count = 0
    for batch, probabilities in results:
        out.write("".join(format_result(t, p, as_json) + "\n" for t, p in zip(batch, probabilities)))
        out.flush()
        count += len(batch)
    return count
