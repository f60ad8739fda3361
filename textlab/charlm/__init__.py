"""Character-level recurrent language models: data, model, training, evaluation, sampling."""
