"""The TF-IDF + logistic-regression anchor on the sentiment validation part and its short views.

    python scripts/bench_tfidf_views.py [--data ../shared/data/aclImdb_v1-text.tar.gz] [--c 1 4 16]

scikit-learn's TfidfVectorizer (word uni- and bigrams, min_df 2, sublinear tf) and
LogisticRegression, trained on the part of the aclImdb train split that `train-sentiment` trained
the shipped English model on (the split its card records) and scored on its validation part: whole reviews and each review's first and last sentence
(:func:`textlab.sentiment.short_inputs.view_sentences`, the views every sentiment card reports).
The test split is never read. Prints one JSON line, with the shipped English model's card
figures beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "aclImdb_v1-text.tar.gz"))
    parser.add_argument("--c", type=float, nargs="+", default=[1.0, 4.0, 16.0], help="inverse regularisation strengths tried")
    args = parser.parse_args()

    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from shipped_sentiment_data import imdb_split
    from textlab.runtime.machine import machine_info
    from textlab.sentiment.short_inputs import view_sentences
    from textlab.store.shipped import shipped_model

    machine = machine_info()  # the CPU and the load average before the run
    started = time.perf_counter()
    card = json.loads((shipped_model("sentiment", "en") / "config.json").read_text(encoding="utf-8"))
    texts, labels, train, valid = imdb_split(card["extra"]["training"], args.data)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform([texts[i] for i in train])
    targets = np.array([labels[i] for i in train])
    valid_texts, valid_labels = [texts[i] for i in valid], np.array([labels[i] for i in valid])
    views = {"full": valid_texts, **{view: [sentence for sentence, _ in chosen]
                                     for view, chosen in view_sentences(valid_texts, "en").items()}}
    encoded = {view: vectorizer.transform(items) for view, items in views.items()}
    results = {}
    for c in args.c:
        model = LogisticRegression(C=c, max_iter=2000).fit(features, targets)
        results[f"C={c:g}"] = {view: round(float((model.predict(x) == valid_labels).mean()), 4) for view, x in encoded.items()}
    metrics = card["metrics"]
    shipped = {"full": metrics["valid_accuracy"], "first": metrics.get("valid_accuracy_first_sentence"),
               "last": metrics.get("valid_accuracy_last_sentence")}
    print(json.dumps({"benchmark": "tfidf_views", "data": args.data, "train": len(train), "valid": len(valid),
                      "tfidf_logreg": results, "shipped_en": shipped, "seconds": round(time.perf_counter() - started, 1),
                      "machine": machine, "load_average_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
