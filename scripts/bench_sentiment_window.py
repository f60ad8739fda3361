"""How a sentiment model's accuracy and speed change with the words its neural part reads and the
precision it scores in, on the validation part it was chosen on (never the test split). Prints
ONE JSON line.

    python scripts/bench_sentiment_window.py MODEL_DIR 0:fp32 0:bf16 128:bf16 96:bf16 64:fp32

Each setting is ``MAX_LEN:PRECISION``: the neural part reads at most MAX_LEN words (the first
head_len_for(MAX_LEN) and the last ones, as train-sentiment cuts; 0 = as the model was saved), scoring in
float32 or bf16 autocast (`Predictor(precision=...)`). Reported per setting: validation accuracy on
whole reviews and on each review's first / last sentence, the ECE of the full-review
probabilities, and reviews/s on one thread (tokenizing included, batches of 256, after a warm-up).
The validation part is rebuilt as scripts/build_shipped_sentiment.py does (en: the seed-1 tenth of
the aclImdb train split; zh: the ChnSentiCorp validation rows)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shipped_sentiment_rule import validation_part  # noqa: E402 (the build's own validation part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("settings", nargs="+", help="MAX_LEN:PRECISION, e.g. 96:bf16 (0 = the saved length)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from textlab.runtime.machine import machine_info
    from textlab.sentiment.calibrate import expected_calibration_error
    from textlab.sentiment.config import head_len_for
    from textlab.sentiment.predict import Predictor
    from textlab.sentiment.short_inputs import view_sentences

    card = json.loads((args.model / "config.json").read_text(encoding="utf-8"))
    lang = card["config"]["lang"]
    with tempfile.TemporaryDirectory(prefix="textlab-window-") as tmp:
        texts, labels = validation_part(lang, card, Path(tmp))
    labels = np.asarray(labels)
    views = {view: [sentence for sentence, _ in chosen] for view, chosen in view_sentences(texts, lang).items()}
    torch.set_num_threads(1)
    before = machine_info()
    results = []
    for setting in args.settings:
        max_len, precision = setting.split(":")
        predictor = Predictor(args.model, precision=precision)
        if int(max_len):
            predictor.loaded.encoder.max_len, predictor.loaded.encoder.head_len = int(max_len), head_len_for(int(max_len))

        def score(batch_texts):
            out = []
            for start in range(0, len(batch_texts), 256):
                out += predictor.score([predictor.encode(t) for t in batch_texts[start:start + 256]])
            return np.asarray(out)

        score(texts[:64])
        started = time.perf_counter()
        full = score(texts)
        rate = len(texts) / (time.perf_counter() - started)
        row = {"setting": setting, "valid_accuracy": round(float(((full > 0.5) == labels).mean()), 4),
               "valid_ece": round(expected_calibration_error(full.tolist(), labels.tolist()), 4)}
        for view, sentences in views.items():
            row[f"valid_accuracy_{view}_sentence"] = round(float(((score(sentences) > 0.5) == labels).mean()), 4)
        results.append({**row, "reviews_per_second_one_thread": round(rate, 1)})
    print(json.dumps({"model": str(args.model), "lang": lang, "valid_reviews": len(texts), "results": results,
                      "machine_before": before, "load_average_after": list(os.getloadavg())}))


if __name__ == "__main__":
    main()
