"""LSTM sentiment classification: data preparation, the model, training, inference,
evaluation and the shipped English/Chinese models."""
