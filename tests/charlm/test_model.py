import pytest
import torch

from textlab.charlm.data import CharCodec, load_char_data, unigram_entropy
from textlab.charlm.evaluate import evaluate_ids
from textlab.charlm.model import CharLM, CharLMConfig
from textlab.charlm.sample import generate, next_char_probs
from textlab.charlm.saving import load_charlm, save_charlm
from textlab.charlm.train import TrainConfig, train_charlm
from textlab.errors import DataError, TrainingInterrupted

from .conftest import StopAfter

TINY = dict(embed_dim=16, hidden=48, layers=1, dropout=0.0)


def tiny_train_config(**changes):
    base = dict(seq_len=32, batch_size=8, epochs=3, lr=1e-2, warmup_steps=5, seed=3)
    base.update(changes)
    return TrainConfig(**base)


def train_tiny(corpus_file, cell="lstm", **changes):
    data = load_char_data(str(corpus_file), 0.1)
    config = CharLMConfig(vocab_size=len(data.alphabet), cell=cell, **TINY)
    result = train_charlm(data, config, tiny_train_config(**changes), torch.device("cpu"), log=lambda s: None)
    return data, result


def test_validation_loss_falls_well_below_unigram_entropy(corpus_file):
    data, result = train_tiny(corpus_file)
    entropy = unigram_entropy(data.train)
    assert entropy > 2.5
    assert result.metrics["val_loss"] < 0.5 * entropy
    # the kept model is the best one and scores what the card says
    again = evaluate_ids(result.model, data.valid[: 2_000_000])
    assert again["loss"] == pytest.approx(result.metrics["val_loss"], rel=1e-5)


def test_bf16_autocast_learns_as_well(corpus_file):
    data, fp32 = train_tiny(corpus_file)
    _, bf16 = train_tiny(corpus_file, precision="bf16")
    assert bf16.metrics["precision"] == "bf16"
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())  # weights stay float32
    assert bf16.metrics["val_loss"] < 0.5 * unigram_entropy(data.train)
    assert bf16.metrics["val_loss"] == pytest.approx(fp32.metrics["val_loss"], abs=0.1)


def test_explicit_precisions_are_checked_per_device():
    from textlab.errors import UsageError
    from textlab.runtime.device import check_precision

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert check_precision("fp32", cpu) == "fp32" and check_precision("bf16", cpu) == "bf16"
    assert check_precision("auto", cpu) == "auto" and check_precision("fp16", cuda) == "fp16"
    for name, device, words in (("fp16", cpu, "for CUDA"), ("bf16", cuda, "cuDNN"), ("fp8", cpu, "unknown")):
        with pytest.raises(UsageError) as refused:
            check_precision(name, device)
        assert words in str(refused.value) and "\n" not in str(refused.value)


def test_bf16_is_a_candidate_exactly_where_the_cpu_has_bf16_instructions():
    from pathlib import Path

    from textlab.runtime.device import precision_candidates

    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    expected = ("fp32", "bf16") if flags & {"amx_bf16", "amx_tile", "avx512_bf16"} else ("fp32",)
    assert precision_candidates(torch.device("cpu")) == expected


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells_learn(corpus_file, cell):
    data, result = train_tiny(corpus_file, cell=cell, epochs=2)
    assert result.metrics["val_loss"] < unigram_entropy(data.train)


def test_generate_starts_with_seed_and_has_requested_length(corpus_file):
    data, result = train_tiny(corpus_file, epochs=1)
    codec = CharCodec(data.alphabet)
    text = generate(result.model, codec, "the c", 200, temperature=0.8, top_k=5)
    assert text.startswith("the c") and len(text) == len("the c") + 200
    assert set(text) <= set(data.alphabet)


def test_save_load_gives_identical_probabilities(tmp_path, corpus_file):
    data, result = train_tiny(corpus_file, epochs=1)
    path = save_charlm(tmp_path / "m", result.model, data.alphabet, data.summary(), result.metrics, {})
    loaded, codec, card = load_charlm(path)
    assert card.kind == "charlm" and card.extra["alphabet"] == data.alphabet
    original = next_char_probs(result.model, CharCodec(data.alphabet), "a dog ate")
    assert torch.equal(next_char_probs(loaded, codec, "a dog ate"), original)


def test_tied_weights_save_once_and_reload(tmp_path):
    config = CharLMConfig(vocab_size=10, embed_dim=12, hidden=12, layers=2, tie_weights=True)
    model = CharLM(config)
    assert "head.weight" not in model.weights()
    path = save_charlm(tmp_path / "t", model, list("abcdefghij"), {}, {}, {})
    loaded, codec, _ = load_charlm(path)
    assert torch.equal(next_char_probs(loaded, codec, "abc"), next_char_probs(model, codec, "abc"))


def test_load_refuses_absurd_config(tmp_path):
    model = CharLM(CharLMConfig(vocab_size=4, **TINY))
    path = save_charlm(tmp_path / "m", model, list("abcd"), {}, {}, {})
    config_file = path / "config.json"
    config_file.write_text(config_file.read_text().replace('"hidden": 48', '"hidden": 10000000'))
    with pytest.raises(DataError, match="hidden"):
        load_charlm(path)


def test_resume_continues_from_saved_step(tmp_path, corpus_file):
    data = load_char_data(str(corpus_file), 0.1)
    config = CharLMConfig(vocab_size=len(data.alphabet), embed_dim=16, hidden=48, layers=1, dropout=0.2)
    train = tiny_train_config(epochs=2, eval_interval=4)
    torch.manual_seed(0)
    straight = train_charlm(data, config, train, torch.device("cpu"), log=lambda s: None)

    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(TrainingInterrupted) as info:
        train_charlm(data, config, train, torch.device("cpu"), checkpoint_dir=ckpt, stop=StopAfter(7),
                     log=lambda s: None)
    assert info.value.exit_code == 130
    logs = []
    resumed = train_charlm(data, config, train, torch.device("cpu"), checkpoint_dir=ckpt, resume=True,
                           log=logs.append)
    assert logs[0].startswith("resuming at step 7")
    assert resumed.metrics["steps"] == straight.metrics["steps"]
    assert resumed.metrics["val_loss"] == pytest.approx(straight.metrics["val_loss"], abs=1e-6)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_samples_from_a_cold_short_seed_stay_in_the_text(corpus_file, repetitive_text):
    """Generation starts from a zero state, which stateful training rarely shows the model
    (on tinyshakespeare, samples from a short seed once drifted into rare characters; this
    tiny corpus does not reproduce that, but guards the basic behaviour)."""
    data, result = train_tiny(corpus_file, epochs=4)
    codec = CharCodec(data.alphabet)
    text = generate(result.model, codec, "a", 300, temperature=0.5, generator=torch.Generator().manual_seed(0))
    known = set(repetitive_text.split())
    words = text.split()[1:-1]  # the first and last words may be cut
    assert words and sum(w in known for w in words) / len(words) > 0.8
