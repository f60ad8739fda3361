"""charlm (see the package modules)."""
