"""Folders of single photos in Infinite Nature Zero's LHQ layout, and ``viewgen prepare-photos``'s work on them.

The layout (the original's ``data/lhq_folder.py`` test data, ``ROOT/train/...`` when ``ROOT/train`` exists)::

    ROOT/images/<stem>.png|.jpg|.jpeg   the photos, any size (the original: 384 x 384 outpainted images)
    ROOT/midas-disp/<stem>.npy          float disparity at the photo's size, any positive scale (larger = nearer)
    ROOT/sky_mask/<stem>.png            optional: a sky mask (see :func:`read_sky_mask`)

Preparing a folder (:func:`prepare_photos`) runs a depth backend once per photo that has no ``.npy`` yet and
writes its disparity (min-max normalised, float32, the photo's own size) under a hidden name, renamed into place
when whole: an interrupted run is resumed by running it again, and no file already written is ever replaced. Given
a sky segmenter (:mod:`viewgen.segmentation`), it writes ``sky_mask/<stem>.png`` (0/255, the photo's size) the
same way for every photo without one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from viewgen.errors import one_line
from viewgen.io.images import load_image
from viewgen.staging import write_file_atomic

__all__ = ["CLOUD_LABEL", "PHOTO_SUFFIXES", "SKY_LABEL", "PhotoFiles", "PhotoSummary", "list_photos", "load_disparity",
           "load_photo", "prepare_photos", "read_sky_mask"]

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
SKY_LABEL, CLOUD_LABEL = 156, 105  # DeepLab COCO-Stuff labels the original counts as sky
DISPARITY_FOLDER, SKY_FOLDER = "midas-disp", "sky_mask"


@dataclass(frozen=True)
class PhotoFiles:
    """The files of a photo folder: ``root`` as given, ``base`` (``root/train`` when it exists, else ``root``) and
    its ``images`` sorted by name. Disparity and sky-mask paths follow from an image's stem."""

    root: Path
    base: Path
    images: tuple[Path, ...]

    @property
    def disparity_folder(self) -> Path:
        return self.base / DISPARITY_FOLDER

    def disparity_path(self, image: Path) -> Path:
        """``base/midas-disp/<stem>.npy``."""
        return self.disparity_folder / f"{image.stem}.npy"

    @property
    def sky_folder(self) -> Path:
        return self.base / SKY_FOLDER

    def sky_mask_file(self, image: Path) -> Path:
        """``base/sky_mask/<stem>.png``, whether or not it exists."""
        return self.sky_folder / f"{image.stem}.png"

    def sky_mask_path(self, image: Path) -> Path | None:
        """``base/sky_mask/<stem>.png``, or None when it does not exist."""
        path = self.sky_mask_file(image)
        return path if path.is_file() else None


def list_photos(root: str | Path) -> PhotoFiles:
    """The photos of the folder ``root`` (see the module doc). One-line ``ValueError`` when ``root`` is missing, has
    no ``images/*.png|jpg|jpeg``, or two images share a stem (they would share one disparity file)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"photo folder {root} does not exist (expected {root}/images/*.png|jpg|jpeg)")
    base = root / "train" if (root / "train").is_dir() else root
    folder = base / "images"
    images = sorted(path for path in folder.glob("*") if path.suffix.lower() in PHOTO_SUFFIXES and path.is_file()) \
        if folder.is_dir() else []
    if not images:
        raise ValueError(f"no images in {folder} (expected .png, .jpg or .jpeg photos there)")
    stems: dict[str, Path] = {}
    for path in images:
        if path.stem in stems:
            raise ValueError(f"{stems[path.stem].name} and {path.name} in {folder} share the stem {path.stem!r} "
                             f"(one disparity file {DISPARITY_FOLDER}/{path.stem}.npy): rename one")
        stems[path.stem] = path
    return PhotoFiles(root, base, tuple(images))


@contextlib.contextmanager
def _reading(path: Path, what: str):
    """Any failure to read ``path`` becomes one ``ValueError`` line: ``cannot read the <what> <path>: <why>``."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - Pillow's and numpy's many error types for unreadable files
        raise ValueError(f"cannot read the {what} {path}: {one_line(error, 200)}") from None


def load_photo(path: Path) -> Tensor:
    """A photo as RGB ``[1, 3, H, W]`` float32 in [0, 1] (:func:`~viewgen.io.images.load_image`); one-line
    ``ValueError`` naming the file when it cannot be read."""
    with _reading(path, "photo"):
        return load_image(path)


def load_disparity(path: Path) -> Tensor:
    """A disparity ``.npy`` as ``[1, 1, H, W]`` float32 (:func:`~viewgen.depth.file.read_disparity_file`); one-line
    ``ValueError`` naming the file when it cannot be read."""
    from viewgen.depth.file import read_disparity_file

    with _reading(path, "disparity file"):
        return read_disparity_file(path)


def read_sky_mask(path: Path) -> np.ndarray:
    """A sky-mask PNG -> ``[H, W]`` bool (True = sky).

    Two kinds are told apart by their values: a binary mask holds only 0 and 255 (255 = sky; a 1-bit PNG is one);
    anything else is a DeepLab COCO-Stuff label map (the original's), where labels 156 (sky) and 105 (clouds) are
    sky. (A label map holding only labels 0 and 255 therefore reads as binary.) One-line ``ValueError`` naming the
    file otherwise.
    """
    from PIL import Image

    with _reading(path, "sky mask"), Image.open(path) as image:
        values = np.asarray(image)
    if values.ndim != 2:
        raise ValueError(f"sky mask {path} must be a single-channel label map or 0/255 mask, got shape "
                         f"{list(values.shape)}")
    if values.dtype == bool:  # a 1-bit PNG: Pillow's 0 and 255 arrive as False and True
        return values.copy()
    if np.isin(values, (0, 255)).all():
        return values == 255
    return (values == SKY_LABEL) | (values == CLOUD_LABEL)


def _write_npy(path: Path, disparity: np.ndarray) -> None:
    write_file_atomic(path, lambda stream: np.save(stream, disparity), suffix=".npy")


def _write_sky_png(path: Path, sky: np.ndarray) -> None:
    """``sky [H, W]`` bool as a binary 8-bit PNG, 255 = sky (what :func:`read_sky_mask` reads back)."""
    from PIL import Image

    image = Image.fromarray(np.where(sky, 255, 0).astype(np.uint8))
    write_file_atomic(path, lambda stream: image.save(stream, format="PNG"), suffix=".png")


@dataclass(frozen=True)
class PhotoSummary:
    """What :func:`prepare_photos` did: photos ``prepared`` now, ``skipped`` (their ``.npy`` already written), and
    the ``folder`` the disparity files are in; with a segmenter, sky masks ``skies_written`` now and
    ``skies_skipped`` (already there) in ``sky_folder``."""

    prepared: int
    skipped: int
    folder: Path
    skies_written: int = 0
    skies_skipped: int = 0
    sky_folder: Path | None = None


def prepare_photos(root: str | Path, estimator, on_photo: Callable[[], None] | None = None,
                   on_start: Callable[[int], None] | None = None, segmenter=None) -> PhotoSummary:
    """Write ``midas-disp/<stem>.npy`` (``[H, W]`` float32 disparity in [0, 1], min-max normalised, at the photo's
    size) for every photo of ``root`` that has none, with ``estimator`` (a depth estimator), and, given
    ``segmenter`` (a :class:`~viewgen.segmentation.SkySegmenter`), ``sky_mask/<stem>.png`` (0/255 at the photo's
    size) for every photo that has none. ``on_start(photos to work on)`` is called once before the work,
    ``on_photo()`` after each photo's files are written. One-line ``ValueError`` / ``OSError`` for a bad folder or
    an unreadable photo (the files written before it are kept)."""
    from viewgen.depth import estimate_disparity

    files = list_photos(root)
    depth_todo = {path for path in files.images if not files.disparity_path(path).is_file()}
    sky_todo = set() if segmenter is None else {path for path in files.images if files.sky_mask_path(path) is None}
    todo = [path for path in files.images if path in depth_todo or path in sky_todo]
    if on_start is not None:
        on_start(len(todo))
    for path in todo:
        image = load_photo(path)
        if path in depth_todo:
            disparity = estimate_disparity(image, estimator, size=tuple(image.shape[-2:]))
            _write_npy(files.disparity_path(path), disparity[0, 0].detach().cpu().float().numpy())
        if path in sky_todo:
            _write_sky_png(files.sky_mask_file(path), segmenter.sky_mask(image).numpy())
        if on_photo is not None:
            on_photo()
    skies = (len(sky_todo), len(files.images) - len(sky_todo), files.sky_folder) if segmenter is not None else ()
    return PhotoSummary(len(depth_todo), len(files.images) - len(depth_todo), files.disparity_folder, *skies)
