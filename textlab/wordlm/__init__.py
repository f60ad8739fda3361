"""Word-level recurrent language models: corpus to word ids, model with a tied adaptive softmax, training, evaluation, sampling."""
