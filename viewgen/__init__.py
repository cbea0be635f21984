"""viewgen: turn a single photo into new views of it.

Perpetual view generation (Infinite Nature), Infinite Nature Zero and Equivariant Neural
Rendering in plain PyTorch. ``import viewgen`` stays light: heavy optional dependencies are
imported inside the modules that need them. Conventions: ``docs/conventions.md``.
"""

__version__ = "0.1.0"

__all__ = ["FlyThroughPipeline", "InfiniteNatureZeroPipeline", "NovelViewPipeline", "__version__"]


def __getattr__(name: str):
    """Lazy top-level exports, so ``import viewgen`` does not import the networks."""
    if name == "FlyThroughPipeline":
        from viewgen.pipelines.fly_through import FlyThroughPipeline

        return FlyThroughPipeline
    if name == "InfiniteNatureZeroPipeline":
        from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

        return InfiniteNatureZeroPipeline
    if name == "NovelViewPipeline":
        from viewgen.pipelines.novel_view import NovelViewPipeline

        return NovelViewPipeline
    raise AttributeError(f"module 'viewgen' has no attribute {name!r}")
