"""Sentiment commands: train-sentiment, sentiment, eval-sentiment (thin wrappers over
textlab.sentiment)."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Optional

import typer

from textlab.cli.app import app, echo_json
from textlab.cli.options import Device, Force, JsonOutput, MaxMinutes, ModelName, OutputModel, Resume, Seed

SentimentLang = Annotated[
    Literal["en", "zh", "auto"],
    typer.Option("--lang", help="en (nltk regexp tokens), zh (jieba), auto (by script)."),
]


@app.command("train-sentiment")
def train_sentiment_command(
    dataset: Annotated[str, typer.Argument(help="imdb, an aclImdb directory or tarball, or a label,review CSV (or zip).")],
    lang: SentimentLang = "auto",
    vocab_size: Annotated[int, typer.Option("--vocab-size", min=10, max=2_000_000, help="Words kept (plus <pad>, <unk>).")] = 30000,
    max_len: Annotated[int, typer.Option("--max-len", min=1, max=100_000, help="Words per review fed to the RNN (head + tail).")] = 400,
    cell: Annotated[Literal["lstm", "gru", "rnn"], typer.Option("--cell", help="Recurrent cell.")] = "lstm",
    embed_dim: Annotated[int, typer.Option("--embed-dim", min=1, max=4096)] = 128,
    hidden: Annotated[int, typer.Option("--hidden", min=1, max=4096, help="Hidden units per direction.")] = 128,
    layers: Annotated[int, typer.Option("--layers", min=1, max=8)] = 1,
    bidirectional: Annotated[bool, typer.Option("--bidirectional/--no-bidirectional")] = True,
    dropout: Annotated[float, typer.Option("--dropout", min=0.0, max=0.9)] = 0.4,
    ngram_buckets: Annotated[int, typer.Option("--ngram-buckets", min=0, max=10_000_000, help="Hashed bigram slots of the fastText-style bag feeding the neural head (0 = none).")] = 100_000,
    linear_buckets: Annotated[int, typer.Option("--linear-buckets", min=0, max=1 << 26, help="Hashed uni/bi/trigram slots of the naive-Bayes-weighted linear branch mixed with the neural logit (0 = none).")] = 1 << 21,
    ngram_units: Annotated[Literal["auto", "words", "chars", "words+chars"], typer.Option("--ngram-units", help="What the linear branch's n-grams are made of (auto: words for en, words+chars for zh).")] = "auto",
    pretrained_w2v: Annotated[Optional[str], typer.Option("--pretrained-w2v", help="Initialise the embedding from this word2vec model.")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=1000)] = 5,
    max_minutes: MaxMinutes = None,
    valid_fraction: Annotated[float, typer.Option("--valid-fraction", min=0.001, max=0.9, help="Part of the train split held out for model selection.")] = 0.1,
    valid_data: Annotated[Optional[str], typer.Option("--valid-data", help="Validate on this labelled set (read like DATASET) instead of holding out --valid-fraction.")] = None,
    device: Device = "auto",
    seed: Seed = 1,
    output: OutputModel = None,
    force: Force = False,
    resume: Resume = False,
) -> None:
    """Train an LSTM sentiment classifier on labelled reviews (keeps the best epoch).

    Example: textlab train-sentiment imdb --max-minutes 15 -o imdb
    """
    from textlab.sentiment.model import SentimentConfig
    from textlab.sentiment.train import TrainSettings, train_sentiment
    from textlab.store import command_line, output_path

    config = SentimentConfig(lang=lang, cell=cell, vocab_size=vocab_size, embed_dim=embed_dim, hidden=hidden,
                             layers=layers, bidirectional=bidirectional, dropout=dropout, max_len=max_len,
                             head_len=max_len // 4, ngram_buckets=ngram_buckets, linear_buckets=linear_buckets,
                             linear_units=ngram_units)
    settings = TrainSettings(epochs=epochs, valid_fraction=valid_fraction, valid_data=valid_data,
                             max_minutes=max_minutes, seed=seed, device=device)
    result = train_sentiment(dataset, config, settings, output_path(output, "sentiment"), force=force,
                             resume=resume, pretrained_w2v=pretrained_w2v, command=command_line())
    from textlab.runtime import console

    console.print(f"saved {result['path']}: validation accuracy {result['valid_accuracy']:.4f} "
                  f"(epoch {result['best_epoch']}), {result['minutes']:.1f} min")


def _scorer(model: str | None, lang: str):
    from textlab.sentiment.pretrained import choose_models
    from textlab.sentiment.predict import Predictor, Router
    from textlab.sentiment.saved import load_sentiment

    chosen = choose_models(model, lang)
    return Router({key: Predictor(load_sentiment(path)) for key, path in chosen.items()}, lang)


@app.command("sentiment")
def sentiment_command(
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify; none = read stdin, one per line.")] = None,
    model: ModelName = None,
    json_output: JsonOutput = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Lines scored together.")] = 256,
    lang: SentimentLang = "auto",
) -> None:
    """Classify texts as positive or negative: `label<TAB>probability` per line (stdin streams).

    Example: echo "A wonderful, moving film." | textlab sentiment
    """
    from textlab.sentiment.predict import parallel_probabilities, predict_stream, stdin_batches, text_stdin

    router = _scorer(model, lang)
    if texts:
        lines = [t.replace("\n", " ") for t in texts]
        predict_stream([(lines, router.probabilities(lines))], json_output, sys.stdout)
        return
    results = parallel_probabilities(router, stdin_batches(text_stdin(), batch_size))
    predict_stream(results, json_output, sys.stdout)


@app.command("eval-sentiment")
def eval_sentiment_command(
    data: Annotated[str, typer.Argument(help="imdb, an aclImdb directory or tarball (test split), or a label,review CSV.")],
    model: ModelName = None,
    json_output: JsonOutput = False,
    lang: SentimentLang = "auto",
) -> None:
    """Accuracy, precision/recall/F1 and confusion matrix of a sentiment model on labelled data.

    Example: textlab eval-sentiment imdb --json
    """
    from textlab.runtime import ProgressBar, console
    from textlab.sentiment.evaluate import evaluate

    scorer = _scorer(model, lang)
    with ProgressBar(total=None, description="evaluate", unit="reviews") as bar:
        result = evaluate(scorer, data, "test", progress=lambda n: bar.update(advance=n))
    result["model"] = {k: str(p.loaded.path) for k, p in scorer.predictors.items()}
    if json_output:
        echo_json(result)
        return
    (tn, fp), (fn, tp) = result["confusion"]["rows_true_cols_predicted"]
    console.print(f"{result['n']:,} reviews in {result['seconds']:.1f} s ({result['reviews_per_second'] or 0:,.1f}/s)")
    sys.stdout.write(
        f"accuracy\t{result['accuracy']:.4f}\nprecision\t{result['precision']:.4f}\nrecall\t{result['recall']:.4f}\n"
        f"f1\t{result['f1']:.4f}\nmacro_f1\t{result['macro_f1']:.4f}\n"
        f"confusion (rows true, cols predicted: negative, positive)\n"
        f"negative\t{tn}\t{fp}\npositive\t{fn}\t{tp}\n"
    )
