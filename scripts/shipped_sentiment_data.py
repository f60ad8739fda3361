"""The data the shipped sentiment models are built from (``scripts/build_shipped_sentiment.py``,
whose docstring gives the recipes) and the runner of textlab's own commands that the build
scripts share: the English corpus, the Chinese train/validation/held-out split and the Chinese
word2vec corpus, written as files in a work directory."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
IMDB = DATA / "aclImdb_v1-text.tar.gz"
CHINESE = DATA / "chinese"


def textlab(*args: str) -> str:
    command = [sys.executable, "-m", "textlab", *args]
    print("$ textlab " + " ".join(args), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout


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
    rows too, so that model selection measures the reviews the target is about) and training set."""
    hotel = read_rows(CHINESE / "ChnSentiCorp_htl_train.csv")
    held_out = [row for i, row in enumerate(hotel) if i % 5 == 0]
    held_texts = {text for _, text in held_out}
    rest = [row for i, row in enumerate(hotel) if i % 5 != 0 and row[1] not in held_texts]
    valid = [row for i, row in enumerate(rest) if i % 5 == 0]
    valid_texts = {text for _, text in valid}
    train = [row for row in rest if row[1] not in valid_texts]
    extra = read_rows(CHINESE / "online_shopping_10_cats.zip", category="酒店")
    extra_kept = [row for row in extra if row[1] not in held_texts and row[1] not in valid_texts]
    train += extra_kept
    write_rows(work / "zh_train.csv", train)
    write_rows(work / "zh_valid.csv", valid)
    write_rows(work / "chnsenticorp_heldout.csv", held_out)
    info = {"train_sources": ["ChnSentiCorp_htl_train.csv rows with index % 5 != 0, minus the validation rows",
                              "online_shopping_10_cats.zip rows with cat 酒店 (hotel)"],
            "train_reviews": len(train), "heldout": "ChnSentiCorp_htl_train.csv rows with index % 5 == 0",
            "valid_part": "every 5th ChnSentiCorp_htl_train.csv row with index % 5 != 0 (picks the epochs and the mix)",
            "heldout_reviews": len(held_out),
            "dropped_duplicates_of_heldout_or_valid": len(extra) - len(extra_kept)}
    return work / "zh_train.csv", work / "zh_valid.csv", work / "chnsenticorp_heldout.csv", info


def chinese_unlabelled_text(work: Path) -> tuple[Path, dict]:
    """Review texts of the Chinese CSVs (all online_shopping categories, waimai, ChnSentiCorp) one
    per line, minus every text of the held-out ChnSentiCorp part: word2vec input (labels unused)."""
    hotel = read_rows(CHINESE / "ChnSentiCorp_htl_train.csv")
    held_texts = {text for i, (_, text) in enumerate(hotel) if i % 5 == 0}
    texts = [text for i, (_, text) in enumerate(hotel) if i % 5 != 0]
    texts += [text for _, text in read_rows(CHINESE / "online_shopping_10_cats.zip")]
    texts += [text for _, text in read_rows(CHINESE / "waimai_10k.csv")]
    kept = [text for text in texts if text not in held_texts]
    path = work / "zh_reviews_unlabelled.txt"
    path.write_text("".join(text + "\n" for text in kept), encoding="utf-8")
    return path, {"corpus": "review texts of ChnSentiCorp_htl_train.csv (index % 5 != 0), online_shopping_10_cats.zip "
                            "(all categories) and waimai_10k.csv, minus any text of the held-out part",
                  "reviews": len(kept)}


def imdb_unlabelled_text(work: Path) -> tuple[Path, dict]:
    """The aclImdb train/{pos,neg,unsup} reviews, one per line (the test split is never read)."""
    path = work / "imdb_train_unsup.txt"
    count = 0
    with tarfile.open(IMDB) as archive, open(path, "w", encoding="utf-8") as out:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and member.name.endswith(".txt") and len(parts) >= 4 \
                    and parts[-3] == "train" and parts[-2] in ("pos", "neg", "unsup"):
                text = archive.extractfile(member).read().decode("utf-8", errors="replace")
                out.write(" ".join(text.split()) + "\n")
                count += 1
    return path, {"corpus": "aclImdb train/{pos,neg,unsup} reviews, one per line (test split not used)",
                  "reviews": count}
