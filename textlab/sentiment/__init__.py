"""LSTM sentiment classification: data preparation, the model, training, inference,
evaluation and the shipped English/Chinese models."""


def gpu_check(device: str = "cuda", **options) -> dict:
    """Sentiment figures for the project's device check: see :mod:`textlab.sentiment.device_check`."""
    from textlab.sentiment.device_check import gpu_check as run

    return run(device, **options)
