"""Load any image vidpipe is given as an upright H×W×3 uint8 RGB array, or refuse it with `ImageLoadError`.

What every loader here guarantees:

* EXIF orientation is applied, so the pixels are the way a photo viewer shows them.
* Every colour mode ends as 8-bit RGB; deeper images are rescaled, never clipped.
* Transparent pixels are composited over white (see `_WHITE`).
* Animated files (GIF, WebP, APNG) and multi-page files give their first frame.
* Images above the pixel limit are refused after reading the header, before any pixel is decoded, with
  a message naming the file, its size, the limit and the setting that changes it; Pillow's own
  decompression-bomb limit is kept above ours, so that it never decides first.
* HEIC/HEIF works when ``pillow_heif`` (the ``heif`` extra) is installed.
* Anything else wrong with the input (missing, empty, corrupt, not an image) is an `ImageLoadError`
  that names the input and says why; no Pillow or OS exception escapes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import threading
import warnings
from collections.abc import Iterator
from typing import IO, TypeAlias

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from vidpipe.errors import ImageLoadError, ImageTooLargeError
from vidpipe.settings import get_settings

ImageSource: TypeAlias = str | os.PathLike[str] | bytes
"""A path to an image file, or the file's bytes."""

# Reference images with cut-out (transparent) backgrounds should look like product shots on a white
# sweep, which is what detectors and embedders were trained on; compositing over black, or dropping the
# alpha channel and exposing whatever colour the transparent pixels happen to store, does not.
_WHITE = (255, 255, 255, 255)

# Pillow cannot say what 'I' (32-bit integer) and 'F' (float) pixels mean, so these are rescaled by the
# smallest usual full scale the data fits (see `_rescale_to_uint8`); 'I;16*' is always 16-bit.
_DEEP_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})

# ISO-BMFF brands of HEVC-coded HEIF files, as found in the ``ftyp`` box at the start of the file.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})

_CORRUPT = "file is truncated or corrupt"

# The setting that holds vidpipe's own pixel limit (`VisionSettings.max_image_pixels`).
PIXEL_LIMIT_SETTING = "VIDPIPE_VISION__MAX_IMAGE_PIXELS"
_PILLOW_LIMIT_LOCK = threading.Lock()


def load_image(source: ImageSource, *, name: str | None = None, max_pixels: int | None = None) -> npt.NDArray[np.uint8]:
    """Load an image as an upright RGB array.

    Args:
        source: Path to an image file, or the file's bytes.
        name: What error messages call the input; defaults to the path, or ``"<bytes>"`` for bytes.
        max_pixels: Refuse images with more than this many pixels (width × height); ``None`` uses
            ``get_settings().vision.max_image_pixels``.

    Returns:
        A writable, C-contiguous uint8 array of shape (height, width, 3), channels in RGB order, values
        0–255, EXIF orientation applied.

    Raises:
        ImageLoadError: The input is missing, empty, unreadable, not an image, corrupt, or too large.
    """
    return np.array(load_pil(source, name=name, max_pixels=max_pixels), dtype=np.uint8, order="C")


def load_pil(source: ImageSource, *, name: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Load an image as a fully decoded Pillow image in mode ``"RGB"``, EXIF orientation applied.

    Same arguments and errors as `load_image`. The result holds no open file.
    """
    label = _label(source, name)
    limit = get_settings().vision.max_image_pixels if max_pixels is None else max_pixels
    with _open(source, label, limit) as img:
        # Image.open has read the header only: the size is known and no pixel has been decoded yet.
        width, height = img.size
        if width * height > limit:
            raise ImageTooLargeError(label, _too_large(width, height, limit))
        try:
            with _no_pillow_bomb_warning():
                img.load()
            upright = ImageOps.exif_transpose(img)
        except Exception as exc:
            # Pillow's many decoders raise many exception types on bad bytes (fuzzing showed OSError,
            # ValueError, EOFError, RuntimeError); every one of them means the same to the caller.
            raise ImageLoadError(label, _CORRUPT) from exc
    return _to_rgb(upright, label)


def image_size(source: ImageSource, *, name: str | None = None) -> tuple[int, int]:
    """Return (width, height) in pixels as `load_image` would produce it, reading only the file's header.

    EXIF orientation is taken into account (orientations 5–8 swap width and height). One limit: a PNG
    whose EXIF chunk comes after the pixel data is reported unrotated, because finding that chunk means
    reading through the pixels. The pixel limit is not applied here; `load_image` applies it.

    Raises:
        ImageLoadError: The input is missing, empty, unreadable, not an image, or has a corrupt header.
    """
    label = _label(source, name)
    with _open(source, label, get_settings().vision.max_image_pixels) as img:
        width, height = img.size
        try:
            # The base-class method, because PngImageFile.getexif decodes the whole image to look for
            # EXIF after the pixel data.
            orientation = Image.Image.getexif(img).get(ExifTags.Base.Orientation, 1)
        except Exception as exc:
            raise ImageLoadError(label, _CORRUPT) from exc
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _label(source: ImageSource, name: str | None) -> str:
    if name is not None:
        return name
    return "<bytes>" if isinstance(source, bytes) else os.fspath(source)


def _too_large(width: int, height: int, limit: int) -> str:
    return (
        f"image is {width}×{height} = {width * height:,} pixels, above vidpipe's limit of {limit:,} pixels "
        f"(refused from its header, before decoding; set {PIXEL_LIMIT_SETTING} to allow larger images)"
    )


def _follow_our_limit(limit: int) -> None:
    """Keep Pillow's own bomb limit at or above ours, so that ours is the one that decides.

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` and refuses, inside ``Image.open`` and with its own
    wording, above twice that. Raised to at least our limit, its refusal can only come for an image over
    twice ours, which ours refuses anyway (and `_open` re-words it). It is only ever raised, under a lock,
    and stays the process-wide second line of defence for frames and tiles Pillow checks while decoding.
    """
    with _PILLOW_LIMIT_LOCK:
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and current < limit:
            Image.MAX_IMAGE_PIXELS = limit


@contextlib.contextmanager
def _open(source: ImageSource, label: str, limit: int) -> Iterator[Image.Image]:
    """Open the image lazily (header only), turning every failure into an `ImageLoadError`."""
    _heif_available()  # registers the HEIF opener on first use
    _follow_our_limit(limit)
    with _read(source, label) as fp:
        try:
            with _no_pillow_bomb_warning():
                img = Image.open(fp)
        except Image.DecompressionBombError as exc:
            # The header claims over twice Pillow's limit, so over twice ours: say it in our words.
            raise ImageTooLargeError(label, _bomb_reason(fp, exc, limit)) from exc
        except UnidentifiedImageError as exc:
            raise ImageLoadError(label, _unrecognised(fp)) from exc
        except Exception as exc:
            raise ImageLoadError(label, _CORRUPT) from exc
        with img:
            yield img


def _bomb_reason(fp: IO[bytes], exc: Image.DecompressionBombError, limit: int) -> str:
    """Our refusal for a header Pillow's ``Image.open`` refused as a decompression bomb."""
    size = _declared_size(fp)
    if size is not None and size[0] * size[1] > limit:
        return _too_large(size[0], size[1], limit)
    pixels = re.search(r"\((\d+) pixels\)", str(exc))
    claimed = f"{int(pixels[1]):,} pixels" if pixels else "more pixels than Pillow allows"
    return (
        f"image is {claimed}, above vidpipe's limit of {limit:,} pixels or Pillow's own "
        f"(refused from its header, before decoding; set {PIXEL_LIMIT_SETTING} to allow larger images)"
    )


def _declared_size(fp: IO[bytes]) -> tuple[int, int] | None:
    """The width and height a header declares, read with Pillow's registered format openers as
    ``Image.open`` does but without its bomb check (which has just refused it); None if none reads it."""
    try:
        fp.seek(0)
        prefix = fp.read(16)
        Image.init()
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            accepted = not accept or accept(prefix)
            if isinstance(accepted, str) or not accepted:
                continue
            fp.seek(0)
            try:
                with _no_pillow_bomb_warning():
                    opened = factory(fp, "")
            except Exception:  # not this format (or refused again): try the next
                continue
            return opened.size
    except Exception:
        return None
    return None


@contextlib.contextmanager
def _read(source: ImageSource, label: str) -> Iterator[IO[bytes]]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    path = os.fspath(source)
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed by the `with` below, after the errors are mapped
    except FileNotFoundError:
        raise ImageLoadError(label, "no such file") from None
    except IsADirectoryError:
        raise ImageLoadError(label, "is a directory") from None
    except PermissionError:
        # Windows reports opening a directory as a permission error.
        raise ImageLoadError(label, "is a directory" if os.path.isdir(path) else "permission denied") from None
    except OSError as exc:
        raise ImageLoadError(label, f"cannot read the file ({exc.strerror or exc})") from None
    with fp:
        yield fp


def _unrecognised(fp: IO[bytes]) -> str:
    """Say why Pillow did not recognise the file."""
    fp.seek(0)
    head = fp.read(64)
    if not head:
        return "file is empty"
    if _is_heif(head) and not _heif_available():
        return "HEIC/HEIF image, but HEIF support is not installed (pip install 'vidpipe[heif]')"
    return "not an image file (unrecognised format)"


def _is_heif(head: bytes) -> bool:
    if head[4:8] != b"ftyp":
        return False
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    # The major brand, then (after a 4-byte minor version) the compatible brands.
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box_end - 3, 4)]
    return any(brand in _HEIF_BRANDS for brand in brands)


@functools.cache
def _heif_available() -> bool:
    """Register pillow_heif's opener with Pillow, once; say whether HEIF files can be read."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@contextlib.contextmanager
def _no_pillow_bomb_warning() -> Iterator[None]:
    # Our own pixel limit is the one that applies. Pillow's warning fires from about 89 Mpx, below our
    # default limit, and would turn into an error wherever warnings are errors. (catch_warnings is not
    # thread-safe before Python 3.14; a lost filter here only means Pillow's warning shows after all.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _to_rgb(img: Image.Image, label: str) -> Image.Image:
    """Convert a decoded image of any mode to a new ``"RGB"`` image."""
    if img.mode in _DEEP_MODES:
        grey = _rescale_to_uint8(np.asarray(img), img.mode)
        return Image.fromarray(grey).convert("RGB")
    try:
        # Covers alpha modes (RGBA, LA, PA, …) and palette or RGB/L images with a transparent colour.
        if img.has_transparency_data:
            background = Image.new("RGBA", img.size, _WHITE)
            return Image.alpha_composite(background, img.convert("RGBA")).convert("RGB")
        # CMYK, YCbCr, LAB, HSV, palette, bilevel and greyscale all have a direct conversion.
        return img.convert("RGB")
    except ValueError as exc:
        raise ImageLoadError(label, f"unsupported colour mode {img.mode!r}") from exc


def _rescale_to_uint8(values: npt.NDArray[np.generic], mode: str) -> npt.NDArray[np.uint8]:
    """Map one-channel 16-bit, 32-bit integer or float pixels of shape (H, W) onto 0–255.

    ``I;16*`` is divided by 257, which maps 0–65535 exactly onto 0–255. ``I`` and ``F`` carry no
    nominal range, so the smallest usual one the data fits is taken: 0–255 or 0–65535 for ``I`` (Pillow
    opens 16-bit PGM as ``I``), 0–1 or 0–255 for ``F``; data outside those is stretched from its own
    minimum to its maximum.
    """
    data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode.startswith("I;16"):
        full_scales = [65535.0]
    elif mode == "I":
        full_scales = [255.0, 65535.0]
    else:
        full_scales = [1.0, 255.0]
    full_scale = next((scale for scale in full_scales if low >= 0.0 and high <= scale), None)
    if full_scale is None:
        data, full_scale = data - low, max(high - low, 1e-12)
    return np.clip(np.rint(data * (255.0 / full_scale)), 0, 255).astype(np.uint8)
