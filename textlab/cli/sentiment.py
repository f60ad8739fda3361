"""Sentiment commands: train-sentiment, sentiment, eval-sentiment (thin wrappers over
textlab.sentiment). Option defaults come from the config dataclasses
(:mod:`textlab.sentiment.config`), the single source of them."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Optional

import typer

from textlab.cli.app import app, echo_json
from textlab.cli.options import Device, Force, JsonOutput, OutputModel, Resume, Seed
from textlab.sentiment.config import FROM_LM_DEFAULTS, SPECIALS, SentimentConfig, TrainSettings, head_len_for

SentimentLang = Annotated[
    Literal["en", "zh", "auto"],
    typer.Option("--lang", help="en (nltk regexp tokens), zh (jieba), auto (each line's, by its script); scoring: picks each line's model."),
]
SentimentModelName = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Model name, directory, shipped:en or shipped:zh (default: for each line, your "
                                       "newest model of its language, else the shipped one)."),
]
MODEL = SentimentConfig  # class attributes: the defaults
FROM_LM_HELP = ("Start from this word LM (train-lm; name or path): its vocabulary, embedding and LSTM, whose shape it "
                "sets; unless given: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in FROM_LM_DEFAULTS.items()) + ".")
TRAIN = TrainSettings

#: Old option names, still accepted (hidden): parameter -> (parameter it stands for, old flag, new flag).
OLD_OPTIONS = {
    "old_ngram_buckets": ("bag_buckets", "--ngram-buckets", "--bag-buckets"),
    "old_linear_buckets": ("ngram_branch_buckets", "--linear-buckets", "--ngram-branch-buckets"),
    "old_ngram_units": ("ngram_branch_units", "--ngram-units", "--ngram-branch-units"),
}


def _take_old_names(given: dict, values: dict) -> None:
    """Move options given under an old name to their new name (in ``given`` and ``values``)."""
    from textlab.errors import UsageError

    for old, (new, old_flag, new_flag) in OLD_OPTIONS.items():
        if old in given:
            if new in given and given[new] != given[old]:
                raise UsageError(f"{old_flag} is the old name of {new_flag}: give one of them")
            given[new] = values[new] = given.pop(old)


@app.command("train-sentiment")
def train_sentiment_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="imdb, an aclImdb directory or tarball, a label,review CSV or TSV (or zip), or a fastText __label__ file.")],
    lang: SentimentLang = MODEL.lang,
    vocab_size: Annotated[int, typer.Option("--vocab-size", min=10, max=2_000_000, help="Words kept (plus <pad>, <unk>).")] = MODEL.vocab_size - SPECIALS,
    max_len: Annotated[int, typer.Option("--max-len", min=1, max=100_000, help="Words per review fed to the RNN (head + tail).")] = MODEL.max_len,
    cell: Annotated[Literal["lstm", "gru", "rnn"], typer.Option("--cell", help="Recurrent cell.")] = MODEL.cell,
    embed_dim: Annotated[int, typer.Option("--embed-dim", min=1, max=4096)] = MODEL.embed_dim,
    hidden: Annotated[int, typer.Option("--hidden", min=1, max=4096, help="Hidden units per direction.")] = MODEL.hidden,
    layers: Annotated[int, typer.Option("--layers", min=1, max=8)] = MODEL.layers,
    bidirectional: Annotated[bool, typer.Option("--bidirectional/--no-bidirectional")] = MODEL.bidirectional,
    dropout: Annotated[float, typer.Option("--dropout", min=0.0, max=0.9)] = MODEL.dropout,
    bag_buckets: Annotated[int, typer.Option("--bag-buckets", min=0, max=10_000_000, help="Hashed bigram slots of the bag: the fastText-style mean of word and bigram embeddings inside the neural part (0 = no bag).")] = MODEL.bag_buckets,
    ngram_branch_buckets: Annotated[int, typer.Option("--ngram-branch-buckets", min=0, max=1 << 26, help="Hashed uni/bi/trigram slots of the n-gram branch: naive-Bayes-weighted logistic regression whose logit is mixed with the neural part's (0 = no branch).")] = MODEL.ngram_branch_buckets,
    ngram_branch_units: Annotated[Literal["auto", "words", "chars", "words+chars"], typer.Option("--ngram-branch-units", help="What the n-gram branch's n-grams are made of (auto: words for en, words+chars for zh).")] = MODEL.ngram_branch_units,
    pretrained_w2v: Annotated[Optional[str], typer.Option("--pretrained-w2v", help="Initialise the embedding from this word2vec model.")] = None,
    from_lm: Annotated[Optional[str], typer.Option("--from-lm", help=FROM_LM_HELP)] = None,
    pooling: Annotated[Literal["max+mean", "last+max+mean"], typer.Option("--pooling", help="Features of the recurrent outputs: max and mean over the words, or the last output beside them.")] = MODEL.pooling,
    sentence_crops: Annotated[float, typer.Option("--sentence-crops", min=0.0, max=10.0, help="Extra training examples per epoch, as a share of the training reviews: crops of 1-3 consecutive sentences, labelled by their review.")] = TRAIN.sentence_crops,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=1000, help="Epochs of every part (the n-gram branch: at most 8 per learning rate).")] = TRAIN.epochs,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", min=0.01, help="Bound the whole job (reading, both parts, saving) to about this many minutes.")] = TRAIN.max_minutes,
    valid_fraction: Annotated[float, typer.Option("--valid-fraction", min=0.001, max=0.9, help="Part of the train split held out for model selection and calibration.")] = TRAIN.valid_fraction,
    valid_data: Annotated[Optional[str], typer.Option("--valid-data", help="Validate on this labelled set (read like DATASET) instead of holding out --valid-fraction.")] = TRAIN.valid_data,
    device: Device = TRAIN.device,
    seed: Seed = TRAIN.seed,
    output: OutputModel = None,
    force: Force = False,
    resume: Resume = False,
    old_ngram_buckets: Annotated[Optional[int], typer.Option("--ngram-buckets", hidden=True, min=0, max=10_000_000)] = None,
    old_linear_buckets: Annotated[Optional[int], typer.Option("--linear-buckets", hidden=True, min=0, max=1 << 26)] = None,
    old_ngram_units: Annotated[Optional[Literal["auto", "words", "chars", "words+chars"]], typer.Option("--ngram-units", hidden=True)] = None,
) -> None:
    """Train an LSTM sentiment classifier on labelled reviews (keeps the best epoch).

    With --resume, --epochs, --max-minutes and --device may change; options that define the model or its data may not.

    Example: textlab train-sentiment imdb --max-minutes 15 -o imdb

    Example: textlab train-sentiment imdb --from-lm imdb-lm -o imdb-from-lm
    """
    from textlab.cli.options import check_validation_source, given_options
    from textlab.sentiment.train import train_sentiment
    from textlab.store.cards import command_line
    from textlab.store.places import output_path

    given = given_options(ctx)
    check_validation_source(dataset, valid_data, given)
    values = {"bag_buckets": bag_buckets, "ngram_branch_buckets": ngram_branch_buckets,
              "ngram_branch_units": ngram_branch_units}
    _take_old_names(given, values)
    config = SentimentConfig(lang=lang, cell=cell, vocab_size=vocab_size + SPECIALS, embed_dim=embed_dim,
                             hidden=hidden, layers=layers, bidirectional=bidirectional, dropout=dropout,
                             max_len=max_len, head_len=head_len_for(max_len), pooling=pooling, **values)
    settings = TrainSettings(epochs=epochs, valid_fraction=valid_fraction, valid_data=valid_data,
                             max_minutes=max_minutes, seed=seed, device=device, sentence_crops=sentence_crops)
    result = train_sentiment(dataset, config, settings, output_path(output, "sentiment"), force=force,
                             resume=resume, pretrained_w2v=pretrained_w2v, command=command_line(), given=given,
                             from_lm=from_lm)
    from textlab.runtime.output import say

    short = ""
    if "valid_accuracy_first_sentence" in result:
        short = (f"; first sentence {result['valid_accuracy_first_sentence']:.4f}, "
                 f"last sentence {result['valid_accuracy_last_sentence']:.4f}")
    say(f"saved {result['path']}: validation accuracy {result['valid_accuracy']:.4f} (epoch {result['best_epoch']}){short}, "
        f"calibration error {result['valid_ece']:.4f}, {result['minutes']:.1f} min")


def _torch_router(model: str | None, lang: str, device: str):
    """Torch models, scored in worker processes (or on the GPU). A model named with --model is
    read now (a damaged one is refused before any input); without it, each language's model is
    read when its first line arrives."""
    from textlab.runtime.device import pick_device
    from textlab.runtime.output import say
    from textlab.sentiment.predict import Predictor
    from textlab.sentiment.pretrained import choose_models
    from textlab.sentiment.routing import Router
    from textlab.sentiment.saved import load_sentiment

    target = pick_device(device)
    router = Router({key: Predictor(load_sentiment(path) if model else path, device=target)
                     for key, path in choose_models(model, lang).items()}, lang, warn=say)
    say(router.describe())
    return router


def _scorer(model: str | None, lang: str, device: str, batches) -> tuple:
    """``(router, batches, in_numpy)``: an input that ended within its first batch (of at most
    ``LIGHT_MAX_LINES`` lines) is scored on a CPU by the numpy scorer, without importing torch
    (:mod:`textlab.sentiment.light`); anything longer by :func:`_torch_router`. The start of the
    input may have been read (``batches``)."""
    from textlab.runtime.device import device_name
    from textlab.runtime.output import say
    from textlab.sentiment.light import LightPredictor
    from textlab.sentiment.pretrained import choose_models
    from textlab.sentiment.routing import LIGHT_MAX_LINES, Router, whole_input

    chosen = choose_models(model, lang)
    # a model named with --model is checked before any input is read (a damaged one is refused at
    # once); its weights are read by whichever scorer the input's length picks, once
    light = {key: LightPredictor(path).check() if model else LightPredictor(path) for key, path in chosen.items()}
    batches, whole = whole_input(batches, LIGHT_MAX_LINES)
    if not (whole and device_name(device) == "cpu"):
        return _torch_router(model, lang, device), batches, False
    router = Router(light, lang, warn=say)
    say(router.describe())
    return router, batches, True


def _note_file_names(texts: list[str]) -> None:
    """Say so when a text given as an argument names a file: it is scored as text, which is
    rarely what was meant (fastText's ``predict`` takes a file there)."""
    import os

    from textlab.runtime.output import say

    for text in texts:
        if text.strip() and len(text) < 4096 and "\n" not in text and os.path.isfile(text):
            say(f"note: {text!r} is scored as a text, not read as a file; for its lines: textlab sentiment < {text}")
            return


@app.command("sentiment")
def sentiment_command(
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify; none or - = read stdin, one per line.")] = None,
    model: SentimentModelName = None,
    json_output: JsonOutput = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Lines scored together.")] = 256,
    lang: SentimentLang = "auto",
    device: Device = "auto",
) -> None:
    """Classify texts as positive or negative: `label<TAB>probability` per line (stdin streams).

    Without --model each line goes to the model of its language: your newest model of that language, else the shipped one (stderr names them).

    Example: echo "A wonderful, moving film." | textlab sentiment
    """
    from textlab.sentiment.routing import in_process, predict_stream
    from textlab.sentiment.stdin import stdin_batches, text_stdin

    if texts == ["-"]:  # as tokenize and the Unix tools read it: standard input
        texts = None
    _note_file_names(texts or [])
    batches = [[t.replace("\n", " ") for t in texts]] if texts else stdin_batches(text_stdin(), batch_size)
    router, batches, in_numpy = _scorer(model, lang, device, batches)
    if in_numpy:
        results = in_process(router, batches)
    else:
        from textlab.sentiment.predict import parallel_probabilities

        results = parallel_probabilities(router, batches)
    predict_stream(results, json_output, sys.stdout)


@app.command("eval-sentiment")
def eval_sentiment_command(
    data: Annotated[str, typer.Argument(help="imdb, an aclImdb directory or tarball (test split), a label,review CSV or TSV, or a fastText __label__ file.")],
    model: SentimentModelName = None,
    json_output: JsonOutput = False,
    lang: SentimentLang = "auto",
    device: Device = "auto",
) -> None:
    """Accuracy, precision/recall/F1, confusion matrix and calibration error (ECE) of a sentiment model on labelled data.

    Example: textlab eval-sentiment imdb --json
    """
    from textlab.runtime.output import say
    from textlab.runtime.progress import ProgressBar
    from textlab.sentiment.evaluate import evaluate

    scorer = _torch_router(model, lang, device)
    with ProgressBar(total=None, description="evaluate", unit="reviews") as bar:
        result = evaluate(scorer, data, "test", progress=lambda n: bar.update(advance=n))
    result["model"] = {k: str(p.path) for k, p in scorer.predictors.items()}
    if json_output:
        echo_json(result)
        return
    (tn, fp), (fn, tp) = result["confusion"]["rows_true_cols_predicted"]
    say(f"{result['n']:,} reviews in {result['seconds']:.1f} s ({result['reviews_per_second'] or 0:,.1f}/s)")
    sys.stdout.write(
        f"accuracy\t{result['accuracy']:.4f}\nprecision\t{result['precision']:.4f}\nrecall\t{result['recall']:.4f}\n"
        f"f1\t{result['f1']:.4f}\nmacro_f1\t{result['macro_f1']:.4f}\nece\t{result['ece']:.4f}\n"
        f"confusion (rows true, cols predicted: negative, positive)\n"
        f"negative\t{tn}\t{fp}\npositive\t{fn}\t{tp}\n"
    )
