"""Build the word-vector and char-LM models shipped in the package, so that every advertised line
works right after install, offline:

    textlab analogy king man woman        -> shipped:en    (textlab/pretrained/word2vec/en)
    textlab neighbors 宝玉                 -> shipped:zh    (textlab/pretrained/word2vec/zh)
    textlab generate --seed p --len 1000  -> shipped:shakespeare (textlab/pretrained/charlm/shakespeare)
    textlab generate --model shipped:imdb --seed "this movie"  -> the English review word LM
                                             (textlab/pretrained/wordlm/imdb; also --from-lm shipped:imdb)

    python scripts/build_shipped_models.py all        # or: w2v-en, w2v-zh, charlm, wordlm
    python scripts/build_shipped_models.py wordlm --lm DIR   # ship a review LM already trained by the recipe

Each is trained by the ordinary commands (``textlab train-w2v`` / ``train-charlm``), then made
small: the query vectors only (the output matrix is for continued training), stored as float16;
the char LM's and the word LM's weights as float16 too (they are loaded back into float32). The card records the
data, the commands, the figures measured on the shipped (float16) weights and the machine.

Data: English vectors from the IMDb train and unlabelled reviews (``../shared/data``; the test
split is never read), Chinese vectors from the four classic novels (public domain), the char LM
from tinyshakespeare (shipped in ``corpora/``), the word LM from the IMDb train and unlabelled
reviews minus the sentiment validation part (``scripts/shipped_sentiment_lm.py``: the same LM
``build_shipped_sentiment.py en --from-lm`` starts from).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from shipped_sentiment_data import DATA, imdb_unlabelled_text, normalize_command, textlab  # noqa: E402 (the scripts' shared helpers)
TARGET = REPO / "textlab" / "pretrained"
NOVELS = ("hongloumeng", "sanguoyanyi", "shuihuzhuan", "xiyouji")

W2V_EN = ["--lang", "en", "--arch", "skipgram", "--dim", "100", "--epochs", "5", "--min-count", "5",
          "--max-vocab", "30000"]
W2V_ZH = ["--lang", "zh", "--arch", "skipgram", "--dim", "100", "--epochs", "10", "--min-count", "3",
          "--max-vocab", "30000"]
CHARLM = ["--max-minutes", "10"]


def english_corpus(work: Path) -> tuple[Path, dict]:
    return imdb_unlabelled_text(work)


def chinese_corpus(work: Path) -> tuple[Path, dict]:
    path = work / "four_novels.txt"
    with open(path, "w", encoding="utf-8") as out:
        for name in NOVELS:
            out.write((DATA / "chinese" / "novels" / f"{name}.txt").read_text(encoding="utf-8") + "\n")
    return path, {"corpus": "the four classic Chinese novels (" + ", ".join(NOVELS) + "), public domain",
                  "source": "../shared/data/chinese/novels"}


def shrink_word2vec(built: Path, target: Path, data: dict, command: str, lang: str) -> dict:
    """Query vectors only, float16; the card says so and carries the figures of what ships."""
    import numpy as np

    from textlab.runtime.machine import machine_info
    from textlab.store.cards import ModelCard, VOCAB_FILE, read_card
    from textlab.store.files import save_model
    from textlab.w2v.evaluate import evaluate_all
    from textlab.w2v.keyed_vectors import KeyedVectors
    from textlab.w2v.saving import load_word2vec

    model, vocab, card, _ = load_word2vec(built)
    vectors = model.vectors.astype(np.float16)
    kv = KeyedVectors(vocab.words, vectors.astype(np.float32))
    figures = {k: v for k, v in evaluate_all(kv).items() if isinstance(v, (int, float)) or v is None}
    if lang == "en":
        figures["king_man_woman_top3"] = [w for w, _ in kv.most_similar(["king", "woman"], negative=["man"])[:3]]
    local = ("path", "id_file")  # the build's temporary files: meaningless once shipped
    shipped = ModelCard(kind="word2vec", config=card.config,
                        data={**{k: v for k, v in card.data.items() if k not in local}, **data},
                        metrics={**{k: card.metrics[k] for k in ("words_per_second", "train_seconds", "mean_loss")
                                    if k in card.metrics}, **figures},
                        command=command, created=card.created, name=target.name,
                        extra={"weights": "vectors only (no output matrix), float16", "built_by":
                               "scripts/build_shipped_models.py", "build_machine": machine_info()})
    if target.exists():
        shutil.rmtree(target)
    save_model(target, shipped, {"vectors": vectors}, vocab_tsv=(built / VOCAB_FILE).read_text(encoding="utf-8"))
    return {"path": str(target), **figures, "vocab": len(vocab), "card": read_card(target).metrics}


def build_word2vec(lang: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="textlab-shipped-") as tmp:
        work = Path(tmp)
        corpus, data = english_corpus(work) if lang == "en" else chinese_corpus(work)
        options = W2V_EN if lang == "en" else W2V_ZH
        built = work / f"w2v-{lang}"
        textlab("train-w2v", str(corpus), *options, "-o", str(built), "--json")
        command = "textlab train-w2v <corpus> " + " ".join(options) + " -o <model>"
        return shrink_word2vec(built, TARGET / "word2vec" / lang, data, command, lang)


def build_charlm() -> dict:
    import torch

    from textlab.charlm.saving import load_charlm
    from textlab.runtime.machine import machine_info
    from textlab.store.cards import ModelCard, read_card
    from textlab.store.files import save_model

    with tempfile.TemporaryDirectory(prefix="textlab-shipped-") as tmp:
        built = Path(tmp) / "shakespeare"
        textlab("train-charlm", "tinyshakespeare", *CHARLM, "-o", str(built))
        model, _codec, card = load_charlm(built)
        target = TARGET / "charlm" / "shakespeare"
        shipped = ModelCard(kind="charlm", config=card.config, data=card.data, metrics=card.metrics,
                            command="textlab train-charlm tinyshakespeare " + " ".join(CHARLM) + " -o <model>",
                            created=card.created, name="shakespeare",
                            extra={**card.extra, "weights": "float16 (loaded into float32)",
                                   "built_by": "scripts/build_shipped_models.py", "build_machine": machine_info()})
        if target.exists():
            shutil.rmtree(target)
        extra_files = {name: (built / name).read_bytes() for name in ("curve.png",) if (built / name).exists()}
        save_model(target, shipped, {k: v.to(torch.float16) for k, v in model.weights().items()},
                   extra_files=extra_files)
    # what ships is float16: measure that on the held-out text, as eval-charlm would
    from textlab.charlm.data import load_char_data
    from textlab.charlm.evaluate import evaluate_ids

    shipped_model, _, _ = load_charlm(target)
    measured = evaluate_ids(shipped_model, load_char_data("tinyshakespeare", 0.1).valid)
    from textlab.store.cards import update_card

    update_card(target, metrics={"shipped_val_loss": round(measured["loss"], 4)})
    return {"path": str(target), "val_loss": card.metrics["val_loss"], "shipped_val_loss": measured["loss"],
            "card": read_card(target).metrics}


def build_wordlm(existing: Path | None) -> dict:
    """The English review LM (``shipped_sentiment_lm.pretrain_lm``: trained, or taken from
    ``existing`` after checking its card against the recipe), stored as float16; its held-out
    perplexity measured by ``textlab eval-lm`` on the documents it held out, before and after."""
    import torch

    from shipped_sentiment_lm import LM_DIM, LM_EPOCHS, pretrain_lm
    from textlab.runtime.machine import machine_info
    from textlab.store.cards import VOCAB_FILE, ModelCard, read_card, update_card
    from textlab.store.files import save_model
    from textlab.wordlm.saving import load_wordlm

    with tempfile.TemporaryDirectory(prefix="textlab-shipped-") as tmp:
        work = Path(tmp)
        built, info = pretrain_lm("en", work, dim=LM_DIM, epochs=LM_EPOCHS, minutes=None, existing=existing)
        model, _vocab, card = load_wordlm(built)
        documents = (work / "imdb_lm_text.txt").read_text(encoding="utf-8").splitlines()
        held_out = work / "held_out.txt"  # the last documents: what train-lm validated on
        held_out.write_text("\n".join(documents[-card.data["valid_documents"]:]) + "\n", encoding="utf-8")
        target = TARGET / "wordlm" / "imdb"
        shipped = ModelCard(kind="wordlm", config=card.config,
                            data={**{k: v for k, v in card.data.items() if k != "corpus"}, "corpus": info["corpus"],
                                  "reviews": info["reviews"]},
                            metrics=card.metrics, command=normalize_command(info["command"]),
                            created=card.created, name="imdb",
                            extra={**card.extra, "weights": "float16 (loaded into float32)",
                                   "built_by": "scripts/build_shipped_models.py wordlm", "build_machine": machine_info()})
        if target.exists():
            shutil.rmtree(target)
        save_model(target, shipped, {k: v.to(torch.float16) for k, v in model.weights().items()},
                   vocab_tsv=(built / VOCAB_FILE).read_text(encoding="utf-8"),
                   extra_files={"curve.png": (built / "curve.png").read_bytes()} if (built / "curve.png").exists() else None)
        before = json.loads(textlab("eval-lm", str(held_out), "--model", str(built), "--json"))
        after = json.loads(textlab("eval-lm", str(held_out), "--model", str(target), "--json"))
    update_card(target, metrics={"held_out_perplexity": round(before["perplexity"], 2),
                                 "shipped_held_out_perplexity": round(after["perplexity"], 2),
                                 "held_out_unigram_perplexity": round(after["unigram_perplexity"], 2),
                                 "held_out_tokens": after["tokens"]})
    return {"path": str(target), "val_perplexity": card.metrics.get("val_perplexity"), "eval_lm_fp32": before,
            "eval_lm_shipped": after, "card": read_card(target).metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("all", "w2v-en", "w2v-zh", "charlm", "wordlm"))
    parser.add_argument("--lm", type=Path, default=None, metavar="DIR",
                        help="wordlm: a review LM already trained by the recipe (its card is checked), not trained again")
    args = parser.parse_args()
    report = {}
    if args.which in ("all", "w2v-en"):
        report["w2v-en"] = build_word2vec("en")
    if args.which in ("all", "w2v-zh"):
        report["w2v-zh"] = build_word2vec("zh")
    if args.which in ("all", "charlm"):
        report["charlm"] = build_charlm()
    if args.which in ("all", "wordlm"):
        report["wordlm"] = build_wordlm(args.lm)
    print(json.dumps(report, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
