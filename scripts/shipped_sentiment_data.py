"""The data the shipped sentiment models are built from (``scripts/build_shipped_sentiment.py``,
whose docstring gives the recipes) and the runner of textlab's own commands that the build
scripts share: the English corpus, the Chinese train/validation/held-out split and the Chinese
word2vec corpus, written as files in a work directory."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
IMDB = DATA / "aclImdb_v1-text.tar.gz"
CHINESE = DATA / "chinese"
TARGET = REPO / "textlab" / "pretrained" / "sentiment"  # where the shipped sentiment models live


def textlab(*args: str) -> str:
    command = [sys.executable, "-m", "textlab", *args]
    print("$ textlab " + " ".join(args), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout


def normalize_path(text: str) -> str:
    """A path in a card without this machine's places: the shared data as ``../shared/...``, a
    build's temporary directory as ``<build dir>``."""
    text = text.replace(str(REPO.parent), "..")
    return re.sub(re.escape(tempfile.gettempdir()) + r"/textlab-shipped-[^/\s]+/", "<build dir>/", text)


def normalize_command(command: str) -> str:
    """The output argument first (before paths gain the space of ``<build dir>``), then the paths."""
    command = re.sub(r" (-o|--output) (?!<)\S+", " -o <model dir>", command)
    return normalize_path(command)


def read_rows(path: Path, category: str | None = None) -> list[tuple[str, str]]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".csv"))
            text = archive.read(name).decode("utf-8-sig", errors="replace")
    else:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    rows = csv.DictReader(io.StringIO(text))
    return [(r["label"], " ".join((r["review"] or "").split())) for r in rows
            if r.get("review") and (category is None or r.get("cat") == category)]


def write_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "review"])
        writer.writerows(rows)


def chinese_split(work: Path) -> tuple[Path, Path, Path, dict]:
    """Held-out part (reported, never trained on or chosen by), validation part (ChnSentiCorp
    rows too, so that model selection measures the reviews the target is about) and training set.

    The held-out part is every 5th ChnSentiCorp row. Nothing used for training or validation
    is a near copy of a held-out review (:class:`textlab.data.dedup.NearDuplicates`: equal
    without white space, or the same first or last 20 characters): most of ChnSentiCorp
    reappears in online_shopping's hotel category, some of it edited. The same rule keeps the
    validation part out of training. :func:`check_held_out` proves it on the files written."""
    from textlab.data.dedup import NearDuplicates

    hotel = read_rows(CHINESE / "ChnSentiCorp_htl_train.csv")
    held_out = [row for i, row in enumerate(hotel) if i % 5 == 0]
    held = NearDuplicates(text for _, text in held_out)
    rest = [row for i, row in enumerate(hotel) if i % 5 != 0 and row[1] not in held]
    valid = [row for i, row in enumerate(rest) if i % 5 == 0]
    kept_out = NearDuplicates(text for _, text in held_out + valid)
    train = [row for i, row in enumerate(rest) if i % 5 != 0 and row[1] not in kept_out]
    extra = read_rows(CHINESE / "online_shopping_10_cats.zip", category="酒店")
    extra_kept = [row for row in extra if row[1] not in kept_out]
    train += extra_kept
    write_rows(work / "zh_train.csv", train)
    write_rows(work / "zh_valid.csv", valid)
    write_rows(work / "chnsenticorp_heldout.csv", held_out)
    info = {"train_sources": ["ChnSentiCorp_htl_train.csv rows with index % 5 != 0, minus the validation rows",
                              "online_shopping_10_cats.zip rows with cat 酒店 (hotel)"],
            "train_reviews": len(train), "heldout": "ChnSentiCorp_htl_train.csv rows with index % 5 == 0",
            "valid_part": "every 5th ChnSentiCorp_htl_train.csv row with index % 5 != 0 (picks the epochs and the mix)",
            "heldout_reviews": len(held_out), "valid_reviews": len(valid),
            "dedup_rule": "equal without white space (letters lowercased), or the same first or last 20 characters",
            "dropped_near_copies_of_heldout_or_valid": {
                "ChnSentiCorp": len(hotel) - len(held_out) - len(valid) - (len(train) - len(extra_kept)),
                "online_shopping hotel": len(extra) - len(extra_kept)},
            "check": check_held_out(work / "chnsenticorp_heldout.csv",
                                    [work / "zh_train.csv", work / "zh_valid.csv"])}
    return work / "zh_train.csv", work / "zh_valid.csv", work / "chnsenticorp_heldout.csv", info


def check_held_out(held_out_csv: Path, used: list[Path]) -> dict:
    """Near copies of held-out reviews in each file that training or model selection reads (a
    CSV of labelled reviews, or a text of one review per line): all must be 0, or the build stops."""
    from textlab.data.dedup import NearDuplicates

    held = NearDuplicates(text for _, text in read_rows(held_out_csv))
    found = {}
    for path in used:
        texts = [text for _, text in read_rows(path)] if path.suffix == ".csv" else \
            path.read_text(encoding="utf-8").splitlines()
        found[path.name] = held.overlap(texts)
    if any(found.values()):
        raise SystemExit(f"held-out reviews leak into training data: {found}")
    return {"near_copies_of_heldout_reviews": found, "heldout_reviews_checked": len(held)}


def chinese_unlabelled_text(work: Path) -> tuple[Path, dict]:
    """Review texts of the Chinese CSVs (all online_shopping categories, waimai, ChnSentiCorp) one
    per line, minus every near copy of a held-out or validation review of :func:`chinese_split`:
    word2vec (and language-model) input, labels unused."""
    from textlab.data.dedup import NearDuplicates

    _, valid_csv, held_csv, _ = chinese_split(work)
    kept_out = NearDuplicates(text for path in (held_csv, valid_csv) for _, text in read_rows(path))
    texts = [text for _, text in read_rows(CHINESE / "ChnSentiCorp_htl_train.csv")]
    texts += [text for _, text in read_rows(CHINESE / "online_shopping_10_cats.zip")]
    texts += [text for _, text in read_rows(CHINESE / "waimai_10k.csv")]
    kept = [text for text in texts if text not in kept_out]
    path = work / "zh_reviews_unlabelled.txt"
    path.write_text("".join(text + "\n" for text in kept), encoding="utf-8")
    return path, {"corpus": "review texts of ChnSentiCorp_htl_train.csv, online_shopping_10_cats.zip (all categories) "
                            "and waimai_10k.csv, minus every near copy of a held-out or validation review",
                  "reviews": len(kept), "dropped": len(texts) - len(kept),
                  "check": check_held_out(held_csv, [path])}


def imdb_train_texts():
    """The aclImdb train/{pos,neg,unsup} review texts, white space collapsed, in archive order
    (the test split is never read)."""
    with tarfile.open(IMDB) as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and member.name.endswith(".txt") and len(parts) >= 4 \
                    and parts[-3] == "train" and parts[-2] in ("pos", "neg", "unsup"):
                yield " ".join(archive.extractfile(member).read().decode("utf-8", errors="replace").split())


def imdb_unlabelled_text(work: Path) -> tuple[Path, dict]:
    """The aclImdb train/{pos,neg,unsup} reviews, one per line (the test split is never read)."""
    path = work / "imdb_train_unsup.txt"
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for text in imdb_train_texts():
            out.write(text + "\n")
            count += 1
    return path, {"corpus": "aclImdb train/{pos,neg,unsup} reviews, one per line (test split not used)",
                  "reviews": count}


def imdb_split(training: dict, data: Path | str = IMDB) -> tuple[list[str], list[int], list[int], list[int]]:
    """The aclImdb train split as `train-sentiment` divided it for a model whose card's training
    settings are ``training`` (its ``valid_fraction`` and ``seed``): texts, labels, and the
    indices of the training and the validation part."""
    from textlab.sentiment.prepare import read_labelled, split_indices

    texts, labels, _ = read_labelled(str(data), "train")
    train_idx, valid_idx = split_indices(len(texts), training["valid_fraction"], training["seed"])
    return texts, labels, list(train_idx), list(valid_idx)


def imdb_lm_text(work: Path, valid_fraction: float = 0.1, seed: int = 1, limit: int = 0) -> tuple[Path, dict]:
    """The word LM's English corpus, one review per line: aclImdb train/unsup (50k) and the
    labelled train reviews, minus every review whose text is one of the sentiment validation
    part's (``split_indices(valid_fraction, seed)``, the part train-sentiment holds out and
    chooses on), so that validation reviews stay as unseen as test reviews. The test split is
    never read. ``limit``: the first that many reviews only (a smoke run)."""
    from textlab.sentiment.prepare import read_labelled, split_indices

    texts, _, _ = read_labelled(str(IMDB), "train")
    _, valid_idx = split_indices(len(texts), valid_fraction, seed)
    held = {" ".join(texts[i].split()) for i in valid_idx}
    path = work / "imdb_lm_text.txt"
    count = dropped = 0
    with open(path, "w", encoding="utf-8") as out:
        for text in imdb_train_texts():
            if text in held:
                dropped += 1
                continue
            out.write(text + "\n")
            count += 1
            if limit and count >= limit:
                break
    return path, {"corpus": "aclImdb train/{unsup,pos,neg} reviews, one per line, minus every review whose text is "
                            f"one of the sentiment validation part's (valid_fraction {valid_fraction}, seed {seed}); "
                            "test split not used", "reviews": count, "dropped_validation_reviews": dropped}
