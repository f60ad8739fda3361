"""One step of the device engine as one function of static-shaped tensors: the window spans and
noise words of ``size`` centre words (from uniforms drawn per chunk), their scores, and one
update of both matrices. Nothing in it depends on a value on the device (no ``.item()``, no
data-dependent shape), so it compiles into one graph (``torch.compile(fullgraph=True)``) and, on
CUDA, is captured once as a CUDA graph and replayed (:mod:`textlab.w2v.compiled`).

The step reads and writes only tensors it is given, always the same ones (the engine's buffers):

- ``ids``, ``sentences`` [P]: the chunk's kept word ids (the sink row ``vocab`` after them) and
  their sentence numbers (-1 after them);
- ``draws`` [P, 1 + 2K]: per kept position, the uniforms of its span and of its K noise words
  (slot and coin of Walker's alias method), drawn per chunk from the chunk's seed;
- ``counter`` int64 [2]: the step's first position (advanced by ``size`` by the step itself) and
  the chunk's kept count; ``rates`` [2]: the chunk's first and last learning rate (a step takes
  the rate of its position); ``totals`` float64 [2]: loss and pairs, summed by the step.

**Summed updates and the row cap.** A step hands a frequent word many updates, all computed from
the same (stale) matrices and summed; sequential SGD never overshoots because each of its small
steps sees the previous ones. On a row's local (Gauss-Newton) quadratic model, with ``H`` the
row's curvature summed over its updates in this step (``sum_i s_i a_i a_i^T``: ``a_i`` the other
vector of update ``i``, ``s_i`` its curvature slope, :func:`curvature_slope`) and ``G`` its summed
update, sequential SGD moves the row by ``(1 - exp(-lr H)) H^-1 G`` where the plain sum moves it
by ``lr G``. ``H`` is dominated by one direction, the mean of the row's other vectors (trained
word vectors share a common component: on the IMDb slice its eigenvalue is ~10x the next one and
~100x the median), so ``cap="split"`` (the default) splits ``G`` into its part along that mean
and the rest and scales each by :func:`sequential` of the curvature along it: within a few
percent of the sequential move for the rows measured (README). ``limit`` (the row limit) caps
each part at that many Newton steps (1: sequential SGD; CBOW is best at 0.5, where a pair's
score also moves with its 2W context rows and its output row at once). The earlier rules scale
the whole ``G`` by ``min(1, limit / x)`` (:func:`row_scale`), ``x = lr * C``, with ``C`` the
curvature along ``G`` (``cap="direction"``) or its upper bound ``sum_i s_i |a_i|^2``
(``cap="trace"``): one factor for all directions, set by the common one, which stops the rest
of the row far too early (the README's step-size table measures all three).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: How a row's summed update is capped (the module docstring): ``none`` leaves it as it is.
CAPS = ("split", "direction", "trace", "none")


def row_scale(curvature: torch.Tensor, lr: torch.Tensor | float, limit: float) -> torch.Tensor:
    """``min(1, limit / x)`` with ``x = lr * curvature``: a row's summed update is left alone
    unless it would move the row more than ``limit`` Newton steps of its local quadratic model."""
    x = curvature * lr
    return torch.where(x > limit, limit / x.clamp(min=1e-30), torch.ones_like(x))


def curvature_slope(fit: torch.Tensor) -> torch.Tensor:
    """The curvature each update adds to its row (times ``(other vector . direction)^2``):
    ``sigmoid'(s) = fit * (1 - fit)``, but never below ``(1 - fit) / 2``. On the wrong side of
    the decision (``fit < 1/2``) sigmoid' vanishes as the score saturates while the gradient does
    not, so the Gauss-Newton curvature alone lets a crowded row of saturated updates take a huge
    step (skip-gram diverged on a Zipf(1.25) corpus, mean loss 40); the floor keeps such rows'
    curvature at 1/4..1/2, the logistic loss's scale, and leaves the right side unchanged."""
    return torch.maximum(fit * (1.0 - fit), 0.5 * (1.0 - fit))


@dataclass(frozen=True)
class StepSpec:
    """Everything static about a step: its shapes and its rules."""

    arch: str
    size: int  # centre words per step
    vocab: int  # the sink row's index
    window: int
    negative: int
    limit: float = 0.0  # the row cap in Newton steps (0: none)
    cap: str = "split"  # see CAPS
    fused: bool = False  # products as broadcast-and-sum (compiled: fused with their gathers) or bmm (eager)

    def __post_init__(self):
        if self.cap not in CAPS:
            raise ValueError(f"unknown row cap {self.cap!r}; use {', '.join(CAPS)}")


def _dots(a: torch.Tensor, b: torch.Tensor, fused: bool) -> torch.Tensor:
    """``[m, p, d] x [m, q, d] -> [m, p, q]`` dot products."""
    return (a[:, :, None, :] * b[:, None, :, :]).sum(-1) if fused else torch.bmm(a, b.transpose(1, 2))


def _mix(c: torch.Tensor, b: torch.Tensor, fused: bool) -> torch.Tensor:
    """``[m, p, q] x [m, q, d] -> [m, p, d]``: weighted sums of ``b``'s rows."""
    return (c[:, :, :, None] * b[:, None, :, :]).sum(2) if fused else torch.bmm(c, b)


class DeviceStep:
    """``step(vectors, context, ids, sentences, draws, accept, alias, counter, rates, totals)``:
    one step in place (see the module docstring); returns nothing."""

    def __init__(self, spec: StepSpec, device: torch.device):
        self.spec = spec
        offsets = [o for o in range(-spec.window, spec.window + 1) if o != 0]
        self.offsets = torch.tensor(offsets, device=device)
        self.reach = self.offsets.abs()

    def __call__(self, vectors, context, ids, sentences, draws, accept, alias, counter, rates, totals) -> None:
        contexts, targets, weight, inside, lr = self.batch(ids, sentences, draws, accept, alias, counter, rates)
        loss, pairs = self.update(vectors, context, contexts, targets, weight, inside, lr)
        totals.add_(torch.stack([loss.double(), pairs.double()]))
        counter[0] += self.spec.size

    def update(self, vectors, context, contexts, targets, weight, inside, lr):
        """One SGD step of both matrices (each with its trailing sink row) for the centre words
        described by ``contexts``, ``targets``, ``weight`` and ``inside`` (see :meth:`batch`);
        returns the summed loss and the number of pairs (0-d tensors on the device)."""
        sides, loss, pairs = self._sides(vectors, context, contexts, targets, weight, inside)
        for side in sides:  # both from the matrices as they were
            self._update_rows(*side, lr)
        return loss, pairs

    def _sides(self, vectors, context, contexts, targets, weight, inside):
        """Scores and loss; per matrix, (matrix, rows, other vectors, coefficients, slopes) of its updates."""
        sign = _signs(weight)
        if self.spec.arch == "cbow":  # the mean of the context vectors predicts the centre word (cbow_mean=1)
            count = inside.to(weight.dtype).sum(1).clamp(min=1.0)
            hidden = sum(vectors[contexts[:, j]] for j in range(contexts.shape[1])) / count[:, None]  # sink rows are 0
            outputs = context[targets]  # [m, 1+K, d]
            fit = torch.sigmoid((outputs * hidden[:, None, :]).sum(-1) * sign)  # sigmoid(s) centre, sigmoid(-s) noise
            loss = -(torch.log(fit.clamp(min=1e-7)) * weight).sum()
            coef = (1.0 - fit) * sign * weight  # label - sigmoid(s)
            slope = curvature_slope(fit) * weight
            pairs = (weight[:, 0] > 0).sum()
            # each context word receives the undivided error, as word2vec does
            sides = ((vectors, contexts, outputs, coef[:, None, :], slope[:, None, :] / count[:, None, None]),
                     (context, targets, hidden[:, None, :], coef[:, :, None], slope[:, :, None]))
        else:  # each context word's vector predicts the centre word, with the centre's noise words
            inputs = vectors[contexts]  # [m, 2W, d]
            outputs = context[targets]  # [m, 1+K, d]
            pair_weight = inside.to(weight.dtype)[:, :, None] * weight[:, None, :]
            fit = torch.sigmoid(_dots(inputs, outputs, self.spec.fused) * sign[:, None, :])  # [m, 2W, 1+K]
            loss = -(torch.log(fit.clamp(min=1e-7)) * pair_weight).sum()
            coef = (1.0 - fit) * sign[:, None, :] * pair_weight
            slope = curvature_slope(fit) * pair_weight
            pairs = inside.sum()
            sides = ((vectors, contexts, outputs, coef, slope),
                     (context, targets, inputs, coef.transpose(1, 2), slope.transpose(1, 2)))
        return sides, loss, pairs

    def _update_rows(self, matrix, rows, others, coef, slope, lr) -> None:
        """Adds to each row of ``matrix`` its summed, capped update: slot ``(i, p)`` updates row
        ``rows[i, p]`` by ``sum_q coef[i, p, q] * others[i, q]`` (``coef``, ``slope`` may have one
        slot for all), with curvature ``sum_q slope[i, p, q] * (others[i, q] . direction)^2``."""
        spec = self.spec
        m, width = rows.shape
        fused = spec.fused
        grad = _summed(matrix, rows, _mix(coef, others, fused).expand(m, width, -1))
        if spec.limit and spec.cap == "trace":
            per_slot = (slope * (others * others).sum(-1)[:, None, :]).sum(2).expand(m, width)
            grad = grad * row_scale(_summed_rows(matrix, rows, per_slot), lr, spec.limit)[:, None]
        elif spec.limit and spec.cap == "direction":
            along = _dots(_unit(grad)[rows], others, fused)
            curvature = _summed_rows(matrix, rows, (slope * along * along).sum(2))
            grad = grad * row_scale(curvature, lr, spec.limit)[:, None]
        elif spec.limit and spec.cap == "split":  # the rows' mean other vector, and the rest
            mean = _unit(_summed(matrix, rows, _mix(slope, others, fused).expand(m, width, -1)))
            head = (grad * mean).sum(1, keepdim=True) * mean  # along the rows' mean other vector
            rest = grad - head
            along_mean = _dots(mean[rows], others, fused)
            along_rest = _dots(_unit(rest)[rows], others, fused)
            curvature_mean = _summed_rows(matrix, rows, (slope * along_mean * along_mean).sum(2))
            curvature_rest = _summed_rows(matrix, rows, (slope * along_rest * along_rest).sum(2))
            grad = head * sequential(curvature_mean * lr, spec.limit)[:, None] + \
                rest * sequential(curvature_rest * lr, spec.limit)[:, None]
        matrix.add_(grad * lr)
        matrix[spec.vocab].zero_()

    def batch(self, ids, sentences, draws, accept, alias, counter, rates):
        """The step's contexts [m, 2W] (the sink where padded), targets [m, 1+K] (centre first),
        weights [m, 1+K], which context slots are real [m, 2W], and the learning rate."""
        spec, sink = self.spec, self.spec.vocab
        last = ids.shape[0] - 1
        start, kept = counter[0], counter[1]
        position = start + torch.arange(spec.size, device=ids.device)
        live = position < kept
        at = position.clamp(max=last)
        centres = torch.where(live, ids[at], sink)
        uniforms = draws[at]
        span = (uniforms[:, 0] * spec.window).long().clamp(max=spec.window - 1) + 1
        where = position[:, None] + self.offsets[None, :]
        inside = (where >= 0) & (where < kept) & (self.reach[None, :] <= span[:, None]) & live[:, None]
        where = where.clamp(0, last)
        inside &= sentences[where] == sentences[at][:, None]
        contexts = torch.where(inside, ids[where], sink)
        k = spec.negative
        slots = (uniforms[:, 1:1 + k] * spec.vocab).long().clamp(max=spec.vocab - 1)
        noise = torch.where(uniforms[:, 1 + k:] < accept[slots], slots, alias[slots])
        targets = torch.cat([centres[:, None], noise], 1)
        used = live & inside.any(1) if spec.arch == "cbow" else live
        weight = torch.cat([used[:, None], (noise != centres[:, None]) & used[:, None]], 1).to(draws.dtype)
        lr = rates[0] + (rates[1] - rates[0]) * start.to(rates.dtype) / kept.clamp(min=1).to(rates.dtype)
        return contexts, targets, weight, inside, lr


def _signs(weight: torch.Tensor) -> torch.Tensor:
    """+1 for the centre word's column, -1 for the noise words'."""
    column = torch.arange(weight.shape[1], device=weight.device)
    return torch.where(column == 0, 1.0, -1.0).to(weight.dtype)[None, :].expand_as(weight)


def sequential(x: torch.Tensor, limit: float) -> torch.Tensor:
    """``limit * (1 - exp(-x / limit)) / x`` (1 at 0), with ``x = lr * C`` the curvature of a row
    along one direction summed over the step's updates: the share of the plain summed update to
    take along that direction. At ``limit`` 1 it is how far the same updates made one by one
    (sequential SGD) go on the row's quadratic model; the move is ``limit * (1 - exp(-x /
    limit))`` Newton steps, plain SGD while ``x`` is small and never more than ``limit``."""
    small = x < 1e-4 * limit
    return torch.where(small, 1.0 - 0.5 * x / limit, -torch.expm1(-x / limit) * limit / torch.where(small, 1.0, x))


def _unit(rows: torch.Tensor) -> torch.Tensor:
    """Each row divided by its length (zero rows stay zero)."""
    return rows / (rows * rows).sum(1, keepdim=True).sqrt().clamp(min=1e-30)


def _summed(matrix: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Each row's summed update: ``values [..., d]`` added up by their ``rows [...]``."""
    total = torch.zeros_like(matrix)
    return total.index_add_(0, rows.reshape(-1), values.reshape(-1, matrix.shape[1]))


def _summed_rows(matrix: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A scalar per row: ``values [...]`` added up by their ``rows [...]``."""
    total = torch.zeros(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    return total.index_add_(0, rows.reshape(-1), values.reshape(-1))
