"""The short-sentence views of a sentiment model as written and as sentence sets write them.

    python scripts/bench_short_forms.py [--model shipped:en] [--data ../shared/data/aclImdb_v1-text.tar.gz]

The validation part of the aclImdb train split that the model was chosen on (the split its card
records; an English IMDb model such as the shipped one), each review's first and last sentence
(:func:`textlab.sentiment.short_inputs.view_sentences`, the views every sentiment card reports),
scored by the model as written and in the form of SST and other sentence sets: put through
nltk's Penn Treebank tokenizer (``it 's``, ``is n't``, ``ca n't``, spaces around punctuation)
and lowercased. The test split is never read. Prints one JSON line.
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
    parser.add_argument("--model", default="shipped:en")
    args = parser.parse_args()

    import numpy as np
    from nltk.tokenize import TreebankWordTokenizer

    from shipped_sentiment_data import imdb_split
    from textlab.runtime.machine import machine_info
    from textlab.sentiment.predict import Predictor, Router
    from textlab.sentiment.short_inputs import view_sentences
    from textlab.store.choice import resolve_model

    machine = machine_info()  # the CPU and the load average before the run
    started = time.perf_counter()
    model = resolve_model(args.model, "sentiment")
    card = json.loads((model / "config.json").read_text(encoding="utf-8"))
    texts, labels, _, valid = imdb_split(card["extra"]["training"], args.data)
    valid_texts, valid_labels = [texts[i] for i in valid], np.array([labels[i] for i in valid])
    router = Router({"en": Predictor(model, precision="fp32")})
    treebank = TreebankWordTokenizer()
    results = {}
    for view, chosen in view_sentences(valid_texts, "en").items():
        written = [sentence for sentence, _ in chosen]
        forms = {"written": written, "treebank_lowercase": [" ".join(treebank.tokenize(s)).lower() for s in written]}
        for form, sentences in forms.items():
            positive = np.array(router.probabilities(sentences)) > 0.5
            results[f"{view}_{form}"] = round(float((positive == (valid_labels == 1)).mean()), 4)
    print(json.dumps({"benchmark": "short_forms", "model": args.model, "data": args.data, "valid": len(valid),
                      "accuracy": results, "seconds": round(time.perf_counter() - started, 1),
                      "machine": machine, "load_average_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
