"""viewgen: turn a single photo into new views of it.

Perpetual view generation (Infinite Nature), Infinite Nature Zero and Equivariant Neural
Rendering in plain PyTorch. ``import viewgen`` stays light: heavy optional dependencies are
imported inside the modules that need them. Conventions: ``docs/conventions.md``.
"""

__version__ = "0.1.0"
