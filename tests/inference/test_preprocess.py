import numpy as np
import pytest

from vidpipe.inference.preprocess import letterbox, to_nchw


@pytest.mark.parametrize(("mean", "std"), [(0.0, 255.0), (127.5, 128.0), ((1.0, 2.0, 3.0), (2.0, 4.0, 8.0))])
def test_to_nchw_matches_the_formula(mean: object, std: object) -> None:
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    expected = ((image.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).transpose(
        2, 0, 1
    )
    blob = to_nchw(image, mean=mean, std=std)  # type: ignore[arg-type]
    assert blob.shape == (1, 3, 37, 53) and blob.dtype == np.float32 and blob.flags.c_contiguous
    np.testing.assert_allclose(blob[0], expected, atol=1e-6)


@pytest.mark.parametrize("centred", [True, False])
def test_letterbox_round_trip_of_a_box(centred: bool) -> None:
    image = np.zeros((300, 600, 3), np.uint8)
    canvas, box = letterbox(image, (640, 640), centred=centred, pad_value=114)
    assert canvas.shape == (640, 640, 3) and box.scale == pytest.approx(640 / 600)
    assert box.pad_y == (160 if centred else 0) and box.pad_x == 0
    assert canvas[0 if centred else 639, 0, 0] == 114
    source = np.array([[60, 30, 540, 270]], np.float32)
    mapped = source * box.scale + np.array([box.pad_x, box.pad_y] * 2, np.float32)
    np.testing.assert_allclose(box.to_source(mapped), source, atol=1e-3)
