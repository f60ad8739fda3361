"""The language-model step of ``scripts/build_shipped_sentiment.py --from-lm``: pretrain the word
LM with ``textlab train-lm`` (the code path users run) on the language's unlabelled review text
(English: :func:`shipped_sentiment_data.imdb_lm_text`, validation reviews excluded; Chinese:
:func:`shipped_sentiment_data.chinese_unlabelled_text`, held-out and validation reviews
excluded), and the tiny data of a ``--smoke N`` run, which proves the whole build end to end in
minutes (its model is never shipped).

The LM's shape is the classifier's (``--from-lm`` takes it): E = H = ``--lm-dim``. Issue-21
research (scratch RESULTS.md, 2-core AMD EPYC): E = H = 256, one epoch of the English corpus in
bf16 (~19 min of one thread at 14.4k tokens/s), gave held-out perplexity 194 and the best
classifier (mixed validation 0.9396 with sentence crops); E = H = 128 (0.5 epoch, ppl 308) gave
0.9288 but is the size that keeps inference above 1,500 reviews/s there."""

from __future__ import annotations

import json
import random
from pathlib import Path

from shipped_sentiment_data import IMDB, chinese_split, chinese_unlabelled_text, imdb_lm_text, read_rows, \
    textlab, write_rows

LM_VOCAB = 30_000
LM_DIM = 256  # E = H of the review LM (build_shipped_sentiment.py --lm-dim; the shipped shipped:imdb)
LM_EPOCHS = 1  # passes of train-lm over its corpus (--lm-epochs)


def lm_options(lang: str, dim: int, smoke: bool) -> list[str]:
    options = ["--lang", lang, "--vocab-size", str(2_000 if smoke else LM_VOCAB), "--embed-dim", str(dim),
               "--hidden", str(dim), "--precision", "fp32" if smoke else "auto"]
    return [*options, "--seq-len", "20", "--batch-size", "8"] if smoke else options


def pretrain_lm(lang: str, work: Path, dim: int, epochs: int, minutes: float | None, smoke: int = 0,
                existing: Path | None = None) -> tuple[Path, dict]:
    """Train the word LM with ``textlab train-lm``; returns its directory and what the card records.
    ``existing``: a word LM already trained by this recipe (``--lm DIR``: the same corpus, the same
    train-lm options), taken instead of training it again; refused if its card says otherwise."""
    if lang == "en":
        corpus, info = imdb_lm_text(work, limit=smoke * 4)
    else:
        corpus, info = chinese_unlabelled_text(work)
        if smoke:
            lines = corpus.read_text(encoding="utf-8").splitlines()[: smoke * 4]
            corpus.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            info["reviews"] = len(lines)
    lm = work / f"{lang}-wordlm"
    args = ["train-lm", str(corpus), *lm_options(lang, dim, bool(smoke)), "--epochs", str(epochs),
            *(["--max-minutes", str(minutes)] if minutes else []), "-o", str(lm), "--force"]
    if existing is None:
        textlab(*args)
        command = "textlab " + " ".join(args)
    else:
        lm = Path(existing)
    card = json.loads((lm / "config.json").read_text(encoding="utf-8"))
    if existing is not None:
        expected = {"lang": lang, "embed_dim": dim, "hidden": dim, "vocab_size": LM_VOCAB + 3}
        differs = {k: card["config"].get(k) for k, v in expected.items() if card["config"].get(k) != v}
        documents = card["data"].get("train_documents", 0) + card["data"].get("valid_documents", 0)
        if differs or documents != info["reviews"]:
            raise SystemExit(f"--lm {lm}: not this recipe's LM ({differs or f'{documents} documents'})")
        command = card.get("command") or ""
    metrics = card["metrics"]
    info.update({"command": command, "lm_config": card["config"],
                 **{k: metrics.get(k) for k in ("val_perplexity", "val_unigram_perplexity", "train_tokens_per_s",
                                                "precision", "epochs", "minutes")}})
    return lm, info


def smoke_data(lang: str, work: Path, n: int) -> tuple[Path, Path | None, Path, dict]:
    """A few labelled reviews to train, validate (zh) and evaluate a smoke build on."""
    from textlab.sentiment.prepare import read_labelled

    rng = random.Random(0)
    if lang == "en":
        texts, labels, _ = read_labelled(str(IMDB), "train")
        rows = [(str(labels[i]), " ".join(texts[i].split())) for i in rng.sample(range(len(texts)), 2 * n)]
        write_rows(work / "smoke_train.csv", rows[:n])
        write_rows(work / "smoke_test.csv", rows[n:])  # smoke figures mean nothing: the test split stays unread
        return work / "smoke_train.csv", None, work / "smoke_test.csv", {
            "smoke": n, "train_sources": [f"{n} aclImdb train reviews (smoke)"],
            "test": f"{n} other aclImdb train reviews (smoke)"}
    train, valid, held_out, _ = chinese_split(work)
    for path in (train, valid, held_out):
        rows = read_rows(path)
        write_rows(path, rng.sample(rows, min(n, len(rows))))
    return train, valid, held_out, {"smoke": n, "train_sources": [f"{n} rows of zh_train.csv (smoke)"],
                                    "heldout": f"{n} rows of chnsenticorp_heldout.csv (smoke)"}
