"""Tests for vidpipe.imaging.loading; every image is made here, in tmp_path or in memory."""

from __future__ import annotations

import contextlib
import io
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFile

from vidpipe.errors import ImageLoadError, ImageTooLargeError
from vidpipe.imaging import loading
from vidpipe.imaging.loading import image_size, load_image, load_pil
from vidpipe.settings import get_settings

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def cornered(width: int = 60, height: int = 40) -> Image.Image:
    """A black image with a red block in its top-left corner."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:10, :10] = RED
    return Image.fromarray(pixels)


def jpeg_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(cornered(), "JPEG", quality=95, exif=exif.tobytes())


def assert_colour(pixel: npt.NDArray[np.uint8], colour: tuple[int, int, int], tolerance: int = 0) -> None:
    difference = np.abs(pixel.astype(int) - np.array(colour))
    assert difference.max() <= tolerance, f"{pixel.tolist()} is not {colour}"


def noisy_jpeg() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), "JPEG", quality=90)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- 1. EXIF orientation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "shape", "corner"),
    [
        (1, (40, 60, 3), (5, 5)),  # as stored: red top-left
        (6, (60, 40, 3), (5, 34)),  # rotated 90° clockwise: red top-right
        (3, (40, 60, 3), (34, 54)),  # rotated 180°: red bottom-right
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path, orientation: int, shape: tuple[int, int, int], corner: tuple[int, int]
) -> None:
    path = write(tmp_path / "photo.jpg", jpeg_with_orientation(orientation))
    pixels = load_image(path)
    assert pixels.shape == shape
    assert_colour(pixels[corner], RED, tolerance=8)
    # Only one corner is red.
    red = pixels[..., 0].astype(int) - pixels[..., 1] > 128
    assert red.sum() == pytest.approx(100, abs=10)
    assert image_size(path) == (shape[1], shape[0])


def test_load_pil_returns_upright_rgb_and_drops_the_orientation(tmp_path: Path) -> None:
    img = load_pil(write(tmp_path / "photo.jpg", jpeg_with_orientation(6)))
    assert (img.mode, img.size) == ("RGB", (40, 60))
    assert img.getexif().get(0x0112, 1) == 1


# --- 2. Colour modes and bit depths ---------------------------------------------------------------


def test_rgb_output_contract(tmp_path: Path) -> None:
    pixels = load_image(write(tmp_path / "a.png", encode(cornered(), "PNG")))
    assert pixels.dtype == np.uint8
    assert pixels.shape == (40, 60, 3)
    assert pixels.flags.c_contiguous
    assert pixels.flags.writeable
    assert_colour(pixels[0, 0], RED)
    assert_colour(pixels[-1, -1], (0, 0, 0))


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(tmp_path: Path, fmt: str) -> None:
    img = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    pixels = load_image(write(tmp_path / f"cmyk.{fmt.lower()}", encode(img, fmt)))
    assert pixels.shape == (8, 8, 3)
    assert_colour(pixels[4, 4], RED, tolerance=2)


def test_16_bit_greyscale_png_is_divided_by_257_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 1000, 32896, 65535]], np.uint16)
    path = write(tmp_path / "deep.png", encode(Image.fromarray(values), "PNG"))
    assert Image.open(path).mode == "I;16"  # what Pillow itself makes of it
    pixels = load_image(path)
    assert pixels.shape == (1, 5, 3)
    assert pixels[0, :, 0].tolist() == [0, 1, 4, 128, 255]
    assert (pixels == pixels[..., :1]).all()


def test_16_bit_big_endian_tiff(tmp_path: Path) -> None:
    img = Image.frombytes("I;16B", (3, 1), np.array([0, 32896, 65535], ">u2").tobytes())
    path = write(tmp_path / "deep.tif", encode(img, "TIFF"))
    assert Image.open(path).mode == "I;16B"
    assert load_image(path)[0, :, 0].tolist() == [0, 128, 255]


def test_16_bit_pgm_opens_as_mode_i_and_is_treated_as_16_bit(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.pgm", encode(Image.fromarray(np.array([[0, 1000, 65535]], np.uint16)), "PPM"))
    assert Image.open(path).mode == "I"
    assert load_image(path)[0, :, 0].tolist() == [0, 4, 255]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 100, 255], [0, 100, 255]),  # fits 8 bits: as is
        ([0, 1000, 65535], [0, 4, 255]),  # fits 16 bits: divided by 257
        ([-100, 0, 300], [0, 64, 255]),  # fits neither: stretched from minimum to maximum
        ([0, 100_000, 400_000], [0, 64, 255]),
    ],
)
def test_32_bit_integer(tmp_path: Path, values: list[int], expected: list[int]) -> None:
    img = Image.fromarray(np.array([values], np.int32))
    assert img.mode == "I"
    assert load_image(write(tmp_path / "int.tif", encode(img, "TIFF")))[0, :, 0].tolist() == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 0.25, 1.0], [0, 64, 255]),  # 0–1
        ([0.0, 64.0, 255.0], [0, 64, 255]),  # 0–255
        ([-1.0, 0.0, 3.0], [0, 64, 255]),  # neither: stretched
        ([0.0, float("nan"), 1.0], [0, 0, 255]),
    ],
)
def test_32_bit_float(tmp_path: Path, values: list[float], expected: list[int]) -> None:
    img = Image.fromarray(np.array([values], np.float32))
    assert img.mode == "F"
    assert load_image(write(tmp_path / "float.tif", encode(img, "TIFF")))[0, :, 0].tolist() == expected


def test_48_bit_rgb_png(tmp_path: Path) -> None:
    # Pillow cannot write 16-bit-per-channel colour; OpenCV can (and wants BGR).
    rgb = np.array([[[65535, 0, 32896], [1000, 33023, 257]]], np.uint16)
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), rgb[..., ::-1])
    pixels = load_image(path)
    assert pixels.shape == (1, 2, 3)
    # Pillow keeps the high byte (÷256, rounded down) rather than ÷257 rounded: at most 1 apart.
    assert np.abs(pixels.astype(int) - np.rint(rgb / 257)).max() <= 1
    assert pixels[0, 0].tolist() == [255, 0, 128]


def test_64_bit_rgba_png_is_composited_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((1, 2, 4), np.uint16)
    rgba[0, 0] = [65535, 0, 0, 65535]  # opaque red
    rgba[0, 1] = [65535, 0, 0, 0]  # fully transparent red
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), rgba[..., [2, 1, 0, 3]])
    assert load_image(path)[0].tolist() == [list(RED), [255, 255, 255]]


def palette_image() -> Image.Image:
    img = Image.new("P", (4, 1))
    img.putpalette([*RED, *BLUE, *GREEN])
    img.putdata([0, 1, 2, 0])
    return img


def test_palette_without_transparency(tmp_path: Path) -> None:
    path = write(tmp_path / "p.png", encode(palette_image(), "PNG"))
    assert Image.open(path).mode == "P"
    assert load_image(path)[0].tolist() == [list(RED), list(BLUE), list(GREEN), list(RED)]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_shows_white(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path / f"p.{fmt.lower()}", encode(palette_image(), fmt, transparency=1, optimize=False))
    opened = Image.open(path)
    assert opened.mode == "P"
    assert "transparency" in opened.info
    assert load_image(path)[0].tolist() == [list(RED), [255, 255, 255], list(GREEN), list(RED)]


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    pixels = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128], [0, 0, 255, 64]]], np.uint8)
    out = load_image(write(tmp_path / "a.png", encode(Image.fromarray(pixels), "PNG")))
    assert out[0, 0].tolist() == list(RED)
    assert out[0, 1].tolist() == [255, 255, 255]  # not the red hidden under alpha 0, not black
    assert_colour(out[0, 2], (127, 127, 127), tolerance=1)  # half-transparent black over white
    assert_colour(out[0, 3], (191, 191, 255), tolerance=1)


def test_greyscale_with_alpha_is_composited_over_white(tmp_path: Path) -> None:
    img = Image.fromarray(np.array([[[0, 255], [0, 0], [100, 128]]], np.uint8), mode="LA")
    out = load_image(write(tmp_path / "la.png", encode(img, "PNG")))
    assert out.shape == (1, 3, 3)
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert_colour(out[0, 2], (177, 177, 177), tolerance=1)


def test_greyscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    img = Image.fromarray(np.array([[0, 77, 255]], np.uint8))
    out = load_image(write(tmp_path / "l.png", encode(img, "PNG")))
    assert out.tolist() == [[[0, 0, 0], [77, 77, 77], [255, 255, 255]]]


def test_bilevel(tmp_path: Path) -> None:
    img = Image.new("1", (4, 2), 0)
    img.putpixel((1, 0), 1)
    path = write(tmp_path / "bw.png", encode(img, "PNG"))
    assert Image.open(path).mode == "1"
    out = load_image(path)
    assert out.shape == (2, 4, 3)
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 0].tolist() == [0, 0, 0]


# --- 3. Animated files ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_file_gives_its_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (8, 6), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    path = write(tmp_path / f"anim.{fmt.lower()}", data)
    assert getattr(Image.open(path), "n_frames", 1) == 3
    out = load_image(path)
    assert out.shape == (6, 8, 3)
    assert_colour(out[3, 4], RED, tolerance=2)


# --- 4. Decompression bombs -----------------------------------------------------------------------


def test_too_many_pixels_is_refused_with_count_and_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "big.png", encode(cornered(60, 40), "PNG"))
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, max_pixels=1000)
    assert caught.value.path == str(path)
    assert "2,400 pixels" in caught.value.reason
    assert "limit of 1,000 pixels" in caught.value.reason


def test_pixel_limit_is_inclusive(tmp_path: Path) -> None:
    path = write(tmp_path / "big.png", encode(cornered(60, 40), "PNG"))
    assert load_image(path, max_pixels=2400).shape == (40, 60, 3)


def png_declaring(width: int, height: int) -> bytes:
    """A real 8×8 PNG whose header (IHDR, with its checksum redone) claims width × height pixels."""
    data = bytearray(encode(cornered(8, 8), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def assert_our_refusal(caught: ImageLoadError, path: Path, size: str, pixels: str, limit: str) -> None:
    assert isinstance(caught, ImageTooLargeError) and caught.status == 413
    message = str(caught)
    assert caught.path == str(path) and path.name in message
    assert size in message and pixels in message and f"vidpipe's limit of {limit} pixels" in message
    assert "VIDPIPE_VISION__MAX_IMAGE_PIXELS" in message and "before decoding" in message
    assert "decompression bomb" not in message.lower()  # Pillow's own wording


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    # The pixel data is cut off, so decoding would fail; the size refusal must come first.
    data = noisy_jpeg()
    path = write(tmp_path / "big.jpg", data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, max_pixels=100)
    assert_our_refusal(caught.value, path, "64×64", "4,096 pixels", "100")


def test_a_header_claiming_more_than_our_limit_is_refused_from_the_header(tmp_path: Path, fresh_settings: None) -> None:
    # 12,000 × 10,000 = 120 Mpx: over our default limit (100 Mpx), under Pillow's hard limit (~179
    # Mpx). The file holds 8×8 pixels, so decoding would fail as corrupt: only the header decides.
    path = write(tmp_path / "claims-120mpx.png", png_declaring(12_000, 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning would be an error here
        with pytest.raises(ImageLoadError) as caught:
            load_image(path)
    assert_our_refusal(caught.value, path, "12000×10000", "120,000,000 pixels", "100,000,000")
    # Under the limit, the same lie is found out by decoding (kept small here: 300×200 claimed).
    small = write(tmp_path / "claims-60kpx.png", png_declaring(300, 200))
    with pytest.raises(ImageLoadError) as decoded:
        load_image(small)
    assert not isinstance(decoded.value, ImageTooLargeError) and "corrupt" in decoded.value.reason


def test_a_header_far_over_pillows_limit_gets_our_wording(tmp_path: Path) -> None:
    # 100,000 × 100,000 = 10 Gpx, far over Pillow's own limit: Image.open itself refuses it, and the
    # refusal must still be ours (file, size, our limit, the setting), not Pillow's words.
    path = write(tmp_path / "claims-10gpx.png", png_declaring(100_000, 100_000))
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, max_pixels=50_000_000)
    assert_our_refusal(caught.value, path, "100000×100000", "10,000,000,000 pixels", "50,000,000")
    with pytest.raises(ImageLoadError) as named:
        load_image(png_declaring(100_000, 100_000), name="upload.png", max_pixels=1000)
    assert "'upload.png'" in str(named.value) and "vidpipe's limit of 1,000 pixels" in str(named.value)
    with pytest.raises(ImageTooLargeError, match="VIDPIPE_VISION__MAX_IMAGE_PIXELS"):
        image_size(path)


def test_pixel_limit_defaults_to_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("VIDPIPE_VISION__MAX_IMAGE_PIXELS", "1000")
    assert get_settings().vision.max_image_pixels == 1000
    with pytest.raises(ImageLoadError, match="limit of 1,000 pixels"):
        load_image(write(tmp_path / "big.png", encode(cornered(60, 40), "PNG")))


def test_pillow_bomb_warning_does_not_fire_below_our_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 2,400 pixels: Pillow would warn
    path = write(tmp_path / "big.png", encode(cornered(60, 40), "PNG"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(path, max_pixels=10_000).shape == (40, 60, 3)
        assert image_size(path) == (60, 40)


def test_a_lower_pillow_limit_does_not_refuse_what_ours_allows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 2,400 pixels: over twice that, Pillow would refuse
    path = write(tmp_path / "big.png", encode(cornered(60, 40), "PNG"))
    assert load_image(path, max_pixels=10_000).shape == (40, 60, 3)
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS >= 10_000  # kept relative to ours
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, max_pixels=1000)
    assert_our_refusal(caught.value, path, "60×40", "2,400 pixels", "1,000")


# --- 5. Broken and non-image inputs ---------------------------------------------------------------


def refusal(source: Path | bytes, *, name: str | None = None) -> ImageLoadError:
    """Load the source and return the ImageLoadError it must raise; image_size must raise the same."""
    with pytest.raises(ImageLoadError) as caught:
        load_image(source, name=name)
    with pytest.raises(ImageLoadError) as caught_size:
        image_size(source, name=name)
    assert caught_size.value.reason == caught.value.reason
    return caught.value


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = noisy_jpeg()
    path = write(tmp_path / "half.jpg", data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert caught.value.reason == "file is truncated or corrupt"
    assert str(path) in str(caught.value)
    # The header is intact, so the size is still known without decoding.
    assert image_size(path) == (64, 64)


def test_truncated_png(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    path = write(tmp_path / "half.png", encode(Image.fromarray(pixels), "PNG"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageLoadError, match="file is truncated or corrupt"):
        load_image(path)
    # Pillow's PNG getexif would decode the pixels (and fail); image_size must not.
    assert image_size(path) == (48, 64)


def test_loader_leaves_pillow_truncated_images_setting_alone() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_header_only_file_is_corrupt(tmp_path: Path) -> None:
    data = encode(cornered(), "PNG")
    error = refusal(write(tmp_path / "stub.png", data[:20]))
    assert error.reason == "file is truncated or corrupt"


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.jpg", b"")
    error = refusal(path)
    assert error.reason == "file is empty"
    assert str(path) in str(error)


def test_empty_bytes() -> None:
    assert refusal(b"").reason == "file is empty"


def test_text_file(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.jpg", b"these are not pixels\n")
    error = refusal(path)
    assert error.reason == "not an image file (unrecognised format)"
    assert str(path) in str(error)


def test_random_bytes(tmp_path: Path) -> None:
    data = np.random.default_rng(1).bytes(4096)
    assert refusal(write(tmp_path / "noise.png", data)).reason == "not an image file (unrecognised format)"


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.png"
    error = refusal(path)
    assert error.reason == "no such file"
    assert error.path == str(path)


def test_directory_path(tmp_path: Path) -> None:
    error = refusal(tmp_path)
    assert error.reason == "is a directory"
    assert error.path == str(tmp_path)


def test_errors_do_not_leak_pillow_or_os_exceptions(tmp_path: Path) -> None:
    data = noisy_jpeg()
    rng = np.random.default_rng(2)
    for _ in range(200):
        broken = bytearray(data)
        for index in rng.integers(0, 400, 6):
            broken[index] = rng.integers(0, 256)
        with contextlib.suppress(ImageLoadError):
            load_image(bytes(broken))


# --- 6. HEIC/HEIF ---------------------------------------------------------------------------------


def test_heic_loads(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    loading._heif_available()  # the loader registers the HEIF opener; needed here to *write* HEIC
    path = write(tmp_path / "photo.heic", encode(cornered(), "HEIF", quality=95))
    pixels = load_image(path)
    assert pixels.shape == (40, 60, 3)
    assert_colour(pixels[5, 5], RED, tolerance=30)
    assert_colour(pixels[30, 50], (0, 0, 0), tolerance=10)
    assert image_size(path) == (60, 40)


def test_heic_orientation(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    loading._heif_available()
    exif = Image.Exif()
    exif[0x0112] = 6  # pillow_heif stores this as an 'irot' transform, which libheif applies
    path = write(tmp_path / "photo.heic", encode(cornered(), "HEIF", quality=95, exif=exif.tobytes()))
    pixels = load_image(path)
    assert pixels.shape == (60, 40, 3)
    assert_colour(pixels[5, 34], RED, tolerance=30)
    assert image_size(path) == (40, 60)


def test_heic_without_pillow_heif_says_to_install_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pillow_heif")  # needed to make the file
    loading._heif_available()
    data = encode(cornered(), "HEIF")
    # Pretend pillow_heif is absent: the loader reports it so, and Pillow no longer knows the format.
    monkeypatch.setattr(loading, "_heif_available", lambda: False)
    monkeypatch.setattr(Image, "ID", [fmt for fmt in Image.ID if fmt != "HEIF"])
    error = refusal(write(tmp_path / "photo.heic", data))
    assert "pip install 'vidpipe[heif]'" in error.reason


# --- 7. Bytes input -------------------------------------------------------------------------------


def test_bytes_load_like_paths(tmp_path: Path) -> None:
    data = jpeg_with_orientation(6)
    path = write(tmp_path / "photo.jpg", data)
    from_path, from_bytes, from_str = load_image(path), load_image(data), load_image(str(path))
    assert np.array_equal(from_path, from_bytes)
    assert np.array_equal(from_path, from_str)
    assert image_size(data) == image_size(path) == (40, 60)
    assert load_pil(data).size == (40, 60)


def test_bytes_errors_use_the_given_name() -> None:
    assert refusal(b"not an image").path == "<bytes>"
    error = refusal(b"not an image", name="upload.png")
    assert error.path == "upload.png"
    assert "'upload.png'" in str(error)


def test_name_overrides_the_path_in_errors(tmp_path: Path) -> None:
    assert refusal(tmp_path / "missing.png", name="hero shot").path == "hero shot"
