"""The char LM's settings: the one source of every default (the CLI, the probe and the trainer
read them from here). Free of torch, so that importing it costs nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from textlab.store.cards import config_from_dict


@dataclass(frozen=True)
class Shape:
    """A model and batch shape for the char LM on a CPU."""

    name: str
    hidden: int
    batch_size: int
    dropout: float
    min_epochs: float  # epochs after which it beats the next narrower shape (0 for the narrowest)
    layers: int = 1
    seq_len: int = 128
    embed_dim: int = 64
    lr: float = 2e-3

    def settings(self) -> dict:
        return {"hidden": self.hidden, "layers": self.layers, "dropout": self.dropout, "seq_len": self.seq_len,
                "batch_size": self.batch_size, "lr": self.lr, "embed_dim": self.embed_dim}


#: CPU candidates for the set-up probe, narrow to wide (:mod:`textlab.charlm.probe` has the rule
#: and where ``min_epochs`` comes from); the first is the CPU default when nothing is probed.
CPU_SHAPES = (
    Shape("1x512/16", hidden=512, batch_size=16, dropout=0.1, min_epochs=0.0),
    Shape("1x768/32", hidden=768, batch_size=32, dropout=0.2, min_epochs=10.0),
)


@dataclass
class TrainConfig:
    """Training settings; the defaults here are the ones every caller starts from."""

    seq_len: int = 128
    batch_size: int = 16
    epochs: int = 0  # 0 = no epoch limit (then max_minutes must be set)
    max_minutes: float = 0.0  # 0 = no time limit
    lr: float = 2e-3
    min_lr_ratio: float = 0.02  # the cosine ends at lr * min_lr_ratio
    warmup_steps: int = 50
    weight_decay: float = 0.1
    clip: float = 1.0
    eval_interval: int = 0  # steps between validations; 0 = about 10 per run, at most an epoch and 1000 steps apart
    eval_chars: int = 2_000_000  # periodic validation uses at most this many validation chars
    patience: int = 1  # epochs without a better validation before the learning rate halves
    reset_prob: float = 0.02  # chance per stream and chunk that its hidden state starts afresh
    precision: str = "fp32"  # fp32 | bf16 (CPU) | fp16 (CUDA, with a gradient scaler); validation is fp32
    seed: int = 1


#: The GPU shape: a wider two-layer model the GPU can afford.
CUDA_SHAPE = Shape("2x1024/64", hidden=1024, layers=2, batch_size=64, dropout=0.25, seq_len=256, embed_dim=128,
                   min_epochs=0.0)
#: The options that define the model's shape (fixing any of them turns the shape probe off).
SHAPE_OPTIONS = ("hidden", "layers", "dropout", "seq_len", "batch_size", "lr", "embed_dim")
#: Options that may change when a run is resumed (they say how long, how fast or where to go on);
#: every other option defines the model or its data and must match the checkpoint.
RESUMABLE = ("epochs", "max_minutes", "device", "precision")


CELLS = ("lstm", "gru", "rnn")
CONFIG_LIMITS = {
    "vocab_size": (2, 1_000_000),
    "embed_dim": (1, 8192),
    "hidden": (1, 8192),
    "layers": (1, 16),
    "dropout": (0.0, 0.95),
    "embed_dropout": (0.0, 0.95),
}


@dataclass
class CharLMConfig:
    vocab_size: int = 65
    cell: str = "lstm"
    embed_dim: int = 128
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.2  # between layers and before the output head
    embed_dropout: float = 0.0  # on the embedded input characters
    tie_weights: bool = False  # share embedding and head (needs embed_dim == hidden)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw, where: str = "charlm config") -> "CharLMConfig":
        config = config_from_dict(cls, raw, where, limits=CONFIG_LIMITS)
        config.check(where)
        return config

    def check(self, where: str = "charlm config") -> None:
        from textlab.errors import DataError

        if self.cell not in CELLS:
            raise DataError(f"{where}: unknown cell {self.cell!r} (use one of: {', '.join(CELLS)})")
        if self.tie_weights and self.embed_dim != self.hidden:
            raise DataError(f"{where}: tie_weights needs embed_dim == hidden")
