"""w2v (see the package modules)."""
