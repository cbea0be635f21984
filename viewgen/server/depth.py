"""The demo's depth backend for uploads, built on the first upload rather than before serving.

Building MiDaS may mean downloading several hundred MB of weights; ``viewgen serve`` prints
its URL first and :class:`LazyDepth` builds the backend when the first photo arrives, in a
worker thread, while the page shows :meth:`LazyDepth.progress_text`. Before that,
:meth:`LazyDepth.availability` tells the page on load whether uploads can work and what to do
if not (``viewgen download midas-v21``, or installing an extra). A failed build is retried on
the next upload, so fetching the weights meanwhile needs no restart.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from typing import Any

from viewgen.errors import ViewgenRuntimeError
from viewgen.errors import one_line as _one_line

__all__ = ["DepthUnavailable", "LazyDepth", "registry_depth"]

Estimate = Callable[[Any], Any]  # image [1, 3, H, W] in [0, 1] -> disparity [1, 1, H, W]


class DepthUnavailable(ViewgenRuntimeError):
    """The backend cannot be built; the message says what to do (for the page)."""


def _as_estimate(estimator) -> Estimate:
    estimate = getattr(estimator, "estimate", None)
    if callable(estimate):
        return estimate
    if callable(estimator):
        return estimator
    raise TypeError(f"a depth backend must be callable or have .estimate(image), got {type(estimator).__name__}")


class LazyDepth:
    """A depth backend built once, on first use, with messages for the page.

    build: ``() -> estimator`` (a callable or an object with ``.estimate``); may be slow
        (downloads) and may raise: the error becomes :class:`DepthUnavailable`.
    availability: ``() -> (uploads_possible, note)``, checked cheaply on every page load
        (e.g. "the weights are missing: run viewgen download ..."); default ``(True, None)``.
    progress: ``() -> text`` shown while building (e.g. the MB downloaded so far).
    fix_hint: appended to build errors that do not say what to do.
    """

    def __init__(self, name: str, build: Callable[[], Any], *,
                 availability: Callable[[], tuple[bool, str | None]] | None = None,
                 progress: Callable[[], str] | None = None, fix_hint: str = "") -> None:
        self.name = name
        self._build = build
        self._availability = availability or (lambda: (True, None))
        self._progress = progress or (lambda: f"Loading the {name} depth model…")
        self._fix_hint = fix_hint
        self._estimate: Estimate | None = None
        self._lock = threading.Lock()
        self.loading = False

    @classmethod
    def ready(cls, estimator, name: str = "depth") -> LazyDepth:
        """An already built backend (``image -> disparity`` or an object with ``.estimate``)."""
        depth = cls(name, lambda: estimator)
        depth._estimate = _as_estimate(estimator)
        return depth

    @property
    def is_ready(self) -> bool:
        return self._estimate is not None

    def availability(self) -> tuple[bool, str | None]:
        """``(uploads possible, a note the page shows on load or None)``."""
        if self.is_ready:
            return True, None
        try:
            return self._availability()
        except Exception as error:  # noqa: BLE001 - a broken check must not break the page
            return True, f"The {self.name} depth backend may not load: {_one_line(error)}"

    def progress_text(self) -> str:
        try:
            return self._progress()
        except Exception:  # noqa: BLE001 - progress is cosmetic
            return f"Loading the {self.name} depth model…"

    def load(self) -> Estimate:
        """Build the backend if needed (blocking, one thread at a time) -> ``image -> disparity``."""
        with self._lock:
            if self._estimate is None:
                self.loading = True
                try:
                    self._estimate = _as_estimate(self._build())
                except Exception as error:  # noqa: BLE001 - told to the page, retried next time
                    reason = _one_line(error).rstrip(".")
                    hint = f" {self._fix_hint}" if self._fix_hint and "viewgen " not in reason else ""
                    raise DepthUnavailable(f"The {self.name} depth backend could not be loaded: {reason}.{hint}") \
                        from error
                finally:
                    self.loading = False
            return self._estimate

    def __call__(self, image):
        return self.load()(image)


def registry_depth(name: str, device: str = "cpu"):
    """The backend ``name`` of :mod:`viewgen.depth`, unbuilt (a :class:`LazyDepth`).

    ``file:PATH`` is built at once (it only reads a file, and a wrong path should stop the
    server before it serves). An unknown name raises the registry's one-line error.
    """
    from viewgen.depth import backend_info, get_estimator

    info = backend_info(name)  # unknown names fail here, before serving
    if info.downloader is None:
        return LazyDepth.ready(get_estimator(name, device=device), name=name)
    weights = _weight_file(info.name)
    return LazyDepth(info.name, lambda: get_estimator(info.name, device=device),
                     availability=lambda: _availability(info, weights),
                     progress=lambda: _progress(info.name, weights),
                     fix_hint=f"Run `viewgen download {info.name}` on this machine, then upload again.")


def _weight_file(name: str):
    """The hub's :class:`~viewgen.hub.WeightFile` of a MiDaS backend, else None."""
    try:
        from viewgen.depth.midas import MIDAS_VARIANTS
    except ImportError:
        return None
    variant = MIDAS_VARIANTS.get(name)
    return variant.weights if variant is not None else None


def _availability(info, weights) -> tuple[bool, str | None]:
    from viewgen.hub import find_weights, is_offline

    if info.requires == "depth" and importlib.util.find_spec("transformers") is None:
        return False, (f"Uploads are off: the {info.name} depth backend needs Hugging Face transformers. "
                       'Run pip install "viewgen[depth]", then restart viewgen serve.')
    if weights is None or find_weights(weights) is not None:
        return True, None
    if is_offline():
        return False, (f"Uploads are off: the {info.name} depth weights are not on this machine. "
                       f"Run `viewgen download {info.name}`, then reload this page.")
    return True, (f"The {info.name} depth weights are not on this machine yet: the first upload downloads "
                  f"them (several hundred MB), or run `viewgen download {info.name}` ahead.")


def _progress(name: str, weights) -> str:
    """What the first upload is waiting for: the MB of weights downloaded so far, or the model load."""
    if weights is not None:
        from viewgen.hub import find_weights, weights_dir

        if find_weights(weights) is None:
            partial = sorted(weights_dir().glob(f".{weights.filename}.*.part"))
            done = sum(path.stat().st_size for path in partial if path.is_file())
            return f"Downloading the {name} depth weights for the first upload: {done / 2**20:.0f} MB so far…"
    return f"Loading the {name} depth model for the first upload…"
