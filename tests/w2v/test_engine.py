"""The device engine: its step equals autograd, caps crowded rows, stays inside windows and
sentences, never reads a value back inside a chunk, and compiles into one graph whose updates
equal the eager step's."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from textlab.text import TokenizerOptions
from textlab.w2v.config import COMPILE_FROM_WORDS, device_step, step_mode
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.engine import DeviceEngine
from textlab.w2v.model import Word2Vec, Word2VecConfig
from textlab.w2v.pipeline import train_word2vec
from textlab.w2v.sampling import NoiseSampler, keep_probabilities
from textlab.w2v.step import DeviceStep, StepSpec, curvature_slope, row_scale
from textlab.w2v.plan import Plan
from textlab.w2v.train import train

from .autograd import negative_sampling_loss
from .helpers import write_planted


def quiet(line: str) -> None:
    pass


def _planted(tmp_path, sentences: int = 6000):
    return encode_corpus(write_planted(tmp_path / "planted.txt", sentences), TokenizerOptions(lang="none"),
                         min_count=1, log=quiet)


def _engine(corpus, config: Word2VecConfig, mode: str = "eager") -> DeviceEngine:  # on the CPU
    plan = Plan(chunks=1, items=1, total_words=corpus.num_words, workers=1, first=0, last=corpus.num_positions)
    return DeviceEngine(Word2Vec(config), corpus, keep_probabilities(corpus.vocab.counts, config.sample),
                        NoiseSampler(corpus.vocab.counts), plan, mode=mode)


def _autograd_reference(arch: str, vectors: torch.Tensor, context: torch.Tensor, contexts, targets):
    """Both matrices' gradients of the summed loss (``.vectors.grad``, ``.context.grad``)."""
    reference = SimpleNamespace(vectors=vectors.clone().requires_grad_(True),
                                context=context.clone().requires_grad_(True))
    loss = negative_sampling_loss(arch, reference.vectors, reference.context, contexts, targets)
    pairs = (contexts >= 0).sum() if arch == "skipgram" else contexts.shape[0]
    (loss * pairs).backward()
    return reference, loss.detach() * pairs


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_device_step_matches_autograd(arch, fused):
    """Without the row cap the step is plain SGD: autograd's gradient (CBOW: word2vec's
    undivided error for each context word), with the products as bmm (eager) or fused sums."""
    torch.manual_seed(0)
    vocab, dim, lr = 30, 8, 0.1
    vectors, context = torch.randn(vocab, dim) * 0.3, torch.randn(vocab, dim) * 0.3
    contexts = torch.tensor([[1, 2, -1, 4], [5, 6, 7, 8], [9, -1, -1, 10]])
    targets = torch.tensor([[11, 12, 13], [14, 15, 16], [17, 18, 19]])
    reference, expected_loss = _autograd_reference(arch, vectors, context, contexts, targets)
    sink_vectors = torch.cat([vectors, torch.zeros(1, dim)])
    sink_context = torch.cat([context, torch.zeros(1, dim)])
    step = DeviceStep(StepSpec(arch, 3, vocab, window=2, negative=2, limit=0.0, fused=fused), torch.device("cpu"))
    loss, pairs = step.update(sink_vectors, sink_context, torch.where(contexts < 0, vocab, contexts), targets,
                              torch.ones(targets.shape), contexts >= 0, torch.tensor(lr))
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-5)
    assert int(pairs) == (9 if arch == "skipgram" else 3)
    grad = reference.vectors.grad
    if arch == "cbow":
        per_row = (contexts >= 0).sum(1, keepdim=True).expand_as(contexts)
        grad = grad * torch.ones(vocab).index_put_((contexts[contexts >= 0],), per_row[contexts >= 0].float())[:, None]
    torch.testing.assert_close(sink_vectors[:vocab], vectors - lr * grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(sink_context[:vocab], context - lr * reference.context.grad, atol=1e-6, rtol=1e-5)
    assert float(sink_vectors[vocab].abs().sum()) == 0 and float(sink_context[vocab].abs().sum()) == 0


def test_row_scale_leaves_plain_sgd_alone_and_caps_crowded_rows():
    curvature = torch.tensor([0.0, 1.0, 40.0, 80.0, 4000.0])
    scale = row_scale(curvature, 0.025, limit=1.5)
    assert scale[:3].tolist() == [1.0, 1.0, 1.0]  # x = 0, 0.025, 1.0: under the limit
    x = 0.025 * curvature[3:]
    torch.testing.assert_close(scale[3:], 1.5 / x)  # capped at 1.5 Newton steps
    assert float(scale[-1] * x[-1]) == pytest.approx(1.5)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_the_cap_along_the_update_stops_at_the_limit_of_the_row_quadratic_model(arch):
    """One row is the only context word of many centre words: its capped summed update ``lr * s *
    G`` moves it exactly ``limit`` Newton steps of its Gauss-Newton model along ``G``
    (``lr * s * sum_i slope_i (o_i . G)^2 / |G|^2``); the trace cap (``sum_i slope_i |o_i|^2``)
    would stop it several times earlier."""
    torch.manual_seed(1)
    vocab, dim, m, lr, limit = 40, 16, 64, 0.5, 1.0
    vectors, context = torch.randn(vocab + 1, dim) * 0.3, torch.randn(vocab + 1, dim) * 0.3
    vectors[vocab] = context[vocab] = 0
    contexts = torch.full((m, 2), vocab)
    contexts[:, 0] = 3  # with one context word, CBOW's hidden vector is the row itself, as in skip-gram
    targets = torch.randint(4, vocab, (m, 3))
    moved = {}
    for cap in ("direction", "trace"):
        step = DeviceStep(StepSpec(arch, m, vocab, window=1, negative=2, limit=limit, cap=cap), torch.device("cpu"))
        after = vectors.clone()
        step.update(after, context.clone(), contexts, targets, torch.ones(m, 3), contexts != vocab, torch.tensor(lr))
        moved[cap] = after[3] - vectors[3]
    outputs, sign = context[targets], torch.tensor([1.0, -1.0, -1.0])
    fit = torch.sigmoid(outputs @ vectors[3] * sign)
    summed = (((1 - fit) * sign)[:, :, None] * outputs).sum((0, 1))  # G
    assert lr * float(summed.norm()) > 2 * float(moved["direction"].norm())  # the cap is active
    curvature = float((curvature_slope(fit) * (outputs @ (summed / summed.norm())) ** 2).sum())
    newton_steps = float(moved["direction"].norm()) / float(summed.norm()) * curvature
    assert newton_steps == pytest.approx(limit, rel=1e-4)
    assert float(moved["direction"].norm()) > 3 * float(moved["trace"].norm())


def test_the_split_cap_moves_a_crowded_row_as_sequential_sgd_would():
    """A row updated by 256 centre words whose output vectors share a common direction (as trained
    word vectors do): its Hessian has one large eigenvalue along that direction. Sequential SGD on
    the row's quadratic model moves it by ``(1 - exp(-lr H)) H^-1 G``; the split cap (the mean
    direction and the rest, each capped on its own curvature) comes within a few percent of that,
    where one cap for the whole row (direction or trace) points 60 degrees off and the plain sum
    goes 15 times too far."""
    torch.manual_seed(2)
    vocab, dim, m, lr = 60, 16, 256, 0.05
    common = torch.randn(dim)
    vectors = torch.randn(vocab + 1, dim) * 0.3
    context = 2.0 * common / common.norm() + torch.randn(vocab + 1, dim) * 0.5
    vectors[vocab] = context[vocab] = 0
    contexts = torch.full((m, 2), vocab)
    contexts[:, 0] = 3
    targets = torch.randint(4, vocab, (m, 3))
    moved = {}
    for cap, limit in (("split", 1.0), ("direction", 1.0), ("none", 0.0)):
        step = DeviceStep(StepSpec("skipgram", m, vocab, window=1, negative=2, limit=limit, cap=cap),
                          torch.device("cpu"))
        after = vectors.clone()
        step.update(after, context.clone(), contexts, targets, torch.ones(m, 3), contexts != vocab, torch.tensor(lr))
        moved[cap] = (after[3] - vectors[3]).double()
    outputs, sign = context[targets].double(), torch.tensor([1.0, -1.0, -1.0]).double()
    fit = torch.sigmoid(outputs @ vectors[3].double() * sign)
    grad = (((1 - fit) * sign)[:, :, None] * outputs).sum((0, 1))
    eigenvalues, basis = torch.linalg.eigh(torch.einsum("mk,mki,mkj->ij", curvature_slope(fit), outputs, outputs))
    assert lr * eigenvalues[-1] > 5 * lr * eigenvalues[-2]  # one dominant direction
    ideal = basis @ ((basis.T @ grad) * -torch.expm1(-lr * eigenvalues) / eigenvalues)

    def ratio_and_cosine(step):
        return float(step.norm() / ideal.norm()), float(step @ ideal / step.norm() / ideal.norm())

    ratio, cosine = ratio_and_cosine(moved["split"])
    assert 0.85 < ratio < 1.15 and cosine > 0.9
    assert ratio_and_cosine(moved["direction"])[1] < 0.7
    assert ratio_and_cosine(moved["none"])[0] > 10


def test_the_step_is_fitted_so_that_a_chunk_fills_whole_steps():
    """98,000 expected kept words per chunk in steps of 32,768 would run 4 steps, the last one
    nearly empty (all steps cost the same); 3 steps of a fitted size hold them with 2% to spare."""
    config = Word2VecConfig(arch="cbow", vocab_size=30_000)
    assert device_step(config) == (32768, 0.5) and device_step(Word2VecConfig(vocab_size=30_000)) == (32768, 1.0)
    size, _ = device_step(config, 98_000)
    assert size == math.ceil(98_000 * 1.02 / 3) and size >= 32768
    larger = dataclasses.replace(config, batch_size=65536)  # 98,000 / 65,536 = 1.5: the nearest whole count
    assert device_step(larger, 98_000)[0] == math.ceil(98_000 * 1.02)
    assert device_step(larger, 99_000)[0] == math.ceil(99_000 * 1.02 / 2)


def test_auto_compiles_the_step_on_cuda_and_for_long_runs_on_a_cpu():
    config, cpu = Word2VecConfig(), torch.device("cpu")
    assert step_mode(config, torch.device("cuda")) == "compiled"
    assert step_mode(config, cpu, COMPILE_FROM_WORDS - 1) == "eager"
    assert step_mode(config, cpu, COMPILE_FROM_WORDS) == "compiled"
    assert step_mode(dataclasses.replace(config, compile="eager"), torch.device("cuda")) == "eager"


def test_a_tiny_vocabulary_shrinks_the_device_step_so_training_stays_finite(tmp_path):
    """Twelve equally frequent words: at 256 centre words per step every row gets hundreds of
    stale summed updates and skip-gram diverges; the step is capped at 4 centres per word."""
    import random

    rng = random.Random(0)
    words = "the king queen man woman rules land sea castle crown sword horse".split()
    path = tmp_path / "w12.txt"
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(30)) for _ in range(3000)) + "\n")
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1, log=quiet)
    for arch in ("skipgram", "cbow"):
        config = Word2VecConfig(arch=arch, dim=32, min_count=1, epochs=1, sample=0.0, vocab_size=len(corpus.vocab))
        assert device_step(config)[0] == 48
        model = Word2Vec(config)
        train(model, corpus, engine="device")
        assert np.isfinite(model.vectors).all() and float(np.abs(model.vectors).max()) < 10


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_device_engine_stays_stable_on_a_heavy_headed_corpus(tmp_path, arch):
    """Zipf(1.25) words (the top word is a fifth of the text): wrong-side saturated scores have
    almost no Gauss-Newton curvature, so without the secant floor the row cap let skip-gram blow
    up (mean loss 40). The device engine must train as well as the hogwild one here."""
    rng = np.random.default_rng(0)
    ranks = np.minimum(rng.zipf(1.25, size=100_000), 200_000).reshape(-1, 1000)
    path = tmp_path / "zipf.txt"
    path.write_text("\n".join(" ".join(f"w{r}" for r in line) for line in ranks) + "\n")
    losses = {}
    for engine in ("device", "hogwild"):
        config = Word2VecConfig(arch=arch, epochs=1, lang="none", engine=engine, workers=1)
        summary = train_word2vec(str(path), config, tmp_path / engine, force=True, device="cpu")
        losses[engine] = summary["mean_loss"]
        if engine == "device":  # a short run on a CPU: eager; the card says so and what step ran
            assert summary["step"] == "eager" and summary["compile_seconds"] == 0 and summary["step_words"] > 16
    assert losses["device"] < 1.3 * losses["hogwild"], losses


class _Syncs(TorchDispatchMode):
    """Records every operation that reads a value back to the host (on a GPU: a stall)."""

    SYNCING = {"aten._local_scalar_dense.default", "aten.nonzero.default", "aten.masked_select.default",
               "aten._unique2.default", "aten.unique_consecutive.default", "aten.item.default",
               "aten.repeat_interleave.Tensor", "aten.equal.default", "aten.is_nonzero.default"}

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func) in self.SYNCING or (str(func).startswith("aten._to_copy") and
                                         (kwargs or {}).get("device") is not None and kwargs["device"].type == "cpu"):
            self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


def test_device_steps_make_no_host_synchronisation(tmp_path):
    """Inside a chunk the device engine never reads a value back (which on a GPU would stall
    it): no .item()/bool()/int()/float()/tolist()/numpy()/cpu() and no data-dependent op
    (nonzero, masked_select, unique, ...) over N steps. Per chunk exactly one read: its counts.
    (The compiled step is checked by its graph: see the next test.)"""
    corpus = _planted(tmp_path, 2000)
    for arch in ("skipgram", "cbow"):
        config = Word2VecConfig(arch=arch, dim=16, window=3, min_count=1, sample=1e-3, epochs=1, batch_size=64,
                                vocab_size=len(corpus.vocab))
        engine = _engine(corpus, config)
        prepared = engine.prepare(0)
        kept, words = prepared.read_counts()
        assert words == corpus.num_words and 0 < kept < words
        engine.load(prepared, 0.01, 0.001)
        with _Syncs() as seen:
            for _ in range(10):
                engine.run_step()
        assert seen.seen == [], (arch, seen.seen[:5])
        assert int(engine.counter[0]) == 10 * engine.step_size
        # a whole chunk: one read-back (the counts), whatever the number of steps
        with _Syncs() as seen:
            engine.train_item(0, 0.01, 0.001)
        assert seen.seen == ["aten._local_scalar_dense.default"] * 2, seen.seen


def test_device_windows_stay_inside_sentences_and_spans(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("".join(" ".join(f"s{s}w{i}" for i in range(10)) + "\n" for s in range(4)))
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1, log=quiet)
    config = Word2VecConfig(dim=4, window=4, min_count=1, sample=0.0, batch_size=7, vocab_size=len(corpus.vocab))
    engine = _engine(corpus, config)
    prepared = engine.prepare(0)
    kept, _ = prepared.read_counts()
    assert kept == 40
    engine.load(prepared, 0.0, 0.0)
    words = corpus.vocab.words
    seen, spans = 0, set()
    for _ in range(-(-kept // engine.step_size)):
        contexts, targets, weight, inside, _lr = engine.step.batch(engine.ids, engine.sentences, engine.draws,
                                                                   engine.accept, engine.alias, engine.counter,
                                                                   engine.rates)
        assert torch.equal(inside, contexts != len(words))
        for centre, row, used in zip(targets[:, 0].tolist(), contexts.tolist(), weight[:, 0].tolist()):
            if centre == len(words):  # after the chunk's last word: padding, trained with weight 0
                assert used == 0 and all(c == len(words) for c in row)
                continue
            sentence, position = words[centre][1:].split("w")
            others = [words[c][1:].split("w") for c in row if c != len(words)]
            assert others and all(s == sentence for s, _ in others)
            distances = {abs(int(p) - int(position)) for _, p in others}
            assert 0 not in distances and max(distances) <= 4
            spans.add(max(distances))
            seen += 1
        engine.counter[0] += engine.step_size
    assert seen == 40 and spans == {1, 2, 3, 4}  # every span 1..window drawn


def _trained_pair(corpus, arch: str) -> dict:
    """One chunk trained by the eager and by the compiled step from the same start."""
    config = Word2VecConfig(arch=arch, dim=8, window=2, negative=3, min_count=1, sample=1e-3, epochs=1,
                            batch_size=64, vocab_size=len(corpus.vocab))
    results = {}
    for mode in ("eager", "compiled"):
        engine = _engine(corpus, config, mode)
        initial = engine.vectors.clone()
        loss, pairs, _ = engine.train_item(0, 0.05, 0.01)
        results[mode] = (engine, initial, float(loss), int(pairs))
    return results


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_the_compiled_step_is_one_graph_and_updates_as_the_eager_one(tmp_path, arch):
    corpus = _planted(tmp_path, 1500)
    pair = _trained_pair(corpus, arch)
    (eager, initial, eager_loss, eager_pairs), (compiled, _, compiled_loss, compiled_pairs) = pair["eager"], pair["compiled"]
    assert compiled.run_step.mode == "compiled" and compiled.info["compile_seconds"] > 0 and compiled.info["step"] == "compiled"
    explained = torch._dynamo.explain(compiled.step)(*compiled.run_step.args)
    assert explained.graph_count == 1 and explained.graph_break_count == 0, explained.break_reasons
    operations = {str(node.target) for node in explained.graphs[0].graph.nodes if node.op == "call_method"}
    operations |= {getattr(node.target, "__name__", "") for node in explained.graphs[0].graph.nodes
                   if node.op == "call_function"}
    assert not operations & {"item", "tolist", "cpu", "numpy", "nonzero", "masked_select", "unique"}, operations
    assert compiled_pairs == eager_pairs > 0
    assert compiled_loss == pytest.approx(eager_loss, rel=1e-4)
    assert float((eager.vectors - initial).abs().max()) > 1e-3  # the chunk trained
    torch.testing.assert_close(compiled.vectors, eager.vectors, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(compiled.context, eager.context, atol=1e-5, rtol=1e-4)
