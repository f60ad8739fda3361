"""What every recurrent language model kind shares (the char LM, the word LM): the stream layout
for stateful truncated BPTT, the held-out measurement, the training loop, the set-up probe and
the sampling step. Below the model kinds, above text and data; it knows no kind: a model offers
``forward(idx, targets, state) -> (output, mean loss, state)`` and
``summed_loss(idx, targets, state) -> (summed loss, count, state)``."""
