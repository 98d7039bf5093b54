"""Tests of tlearn.datasets: loaders, shipped data, domains, splits, attributes.

Nothing is downloaded. The real Fashion-MNIST is used when Debian's
dataset-fashion-mnist is installed, and skipped otherwise.
"""

import ast
import gzip
import hashlib
import itertools
import os
import pathlib
import struct
import sys

import numpy as np
import pytest

from tlearn import datasets as ds
from tlearn.datasets import _data, fashion_mnist

PKG_DIR = pathlib.Path(ds.__file__).parent
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"


# ------------------------------------------------------------- helpers

def idx_bytes(array, code=0x08):
    """IDX encoding written by hand (independent of write_idx)."""
    a = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, code, a.ndim)
    header += struct.pack(">" + "I" * a.ndim, *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write(path, data, gz):
    if gz:
        data = gzip.compress(data)
    pathlib.Path(path).write_bytes(data)
    return path


def fake_fashion(directory, n_train=20, n_test=10, gz=True, seed=0):
    """Write the four Fashion-MNIST files for small random data."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        img, lab = ds.FASHION_MNIST_FILES[split]
        suffix = ".gz" if gz else ""
        write(os.path.join(directory, img + suffix), idx_bytes(x), gz)
        write(os.path.join(directory, lab + suffix), idx_bytes(y), gz)
        out[split] = (x, y)
    return out


@pytest.fixture
def no_default_dirs(monkeypatch, tmp_path):
    """No $TLEARN_DATA, and a system directory that does not exist."""
    monkeypatch.delenv("TLEARN_DATA", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEFAULT_FASHION_MNIST_DIR",
                        str(tmp_path / "no-such-dir"))


# ---------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype,code", [
    (np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
    (np.float32, 0x0D), (np.float64, 0x0E)])
def test_read_idx_round_trip(tmp_path, gz, dtype, code):
    a = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    p = write(tmp_path / "a.idx", idx_bytes(a, code), gz)
    b = ds.read_idx(p)
    assert b.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(a, b)
    # write_idx produces the same bytes as the hand-made encoding
    q = tmp_path / ("b.idx.gz" if gz else "b.idx")
    ds.write_idx(q, a)
    raw = q.read_bytes()
    assert (gzip.decompress(raw) if gz else raw) == idx_bytes(a, code)


def test_read_idx_expectations(tmp_path):
    p = write(tmp_path / "a", idx_bytes(np.zeros((3, 4), np.uint8)), False)
    assert ds.read_idx(p, expected_dtype=np.uint8, expected_ndim=2,
                       expected_shape=(None, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match=r"wrong IDX data type: expected int32.*found uint8"):
        ds.read_idx(p, expected_dtype=np.int32)
    with pytest.raises(ValueError, match=r"wrong IDX number of dimensions: expected 3, found 2"):
        ds.read_idx(p, expected_ndim=3)
    with pytest.raises(ValueError, match=r"wrong IDX dimensions: expected \('\*', 5\), found \(3, 4\)"):
        ds.read_idx(p, expected_shape=(None, 5))


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_rejects_bad_files(tmp_path, gz):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))

    def bad(data, pattern):
        p = write(tmp_path / "f", data, gz)
        with pytest.raises(ValueError, match=pattern) as info:
            ds.read_idx(p)
        assert str(p) in str(info.value)  # the message names the file

    bad(b"\x01\x00" + good[2:], r"bad IDX magic number: expected .*0x00 0x00, found 0x01 0x00")
    bad(good[:2] + b"\x07" + good[3:], r"unknown IDX data type code: expected one of .*found 0x07")
    bad(good[:3] + b"\x00" + good[4:], r"number of dimensions: expected 1\.\.16, found 0")
    bad(good[:8], r"truncated IDX header: expected 16 bytes .*found 8")
    bad(good[:-100], r"truncated IDX data: expected 3136 bytes for shape \(4, 28, 28\).*found 3036")
    bad(good + b"\x00\x00", r"longer than its header declares.*2 trailing bytes")
    bad(b"\x00\x00", r"expected at least a 4-byte header, found 2 bytes")


def test_read_idx_rejects_damaged_gzip(tmp_path):
    z = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 251))
    p = write(tmp_path / "t.gz", z[: len(z) // 2], False)
    with pytest.raises(ValueError, match=r"t\.gz: gzip stream is truncated"):
        ds.read_idx(p)
    crc = bytearray(z)
    crc[-5] ^= 0xFF  # CRC32 of the content
    p = write(tmp_path / "c.gz", bytes(crc), False)
    with pytest.raises(ValueError, match=r"c\.gz: gzip data is corrupt"):
        ds.read_idx(p)


def test_write_idx_rejects_bad_dtype(tmp_path):
    with pytest.raises(ValueError, match=r"unsupported dtype: expected one of .*got int64"):
        ds.write_idx(tmp_path / "x", np.zeros(3, np.int64))


# -------------------------------------------------------- Fashion-MNIST

@pytest.mark.parametrize("gz", [True, False])
def test_load_fashion_mnist_round_trip(tmp_path, gz):
    ref = fake_fashion(tmp_path, gz=gz)
    for split in ("train", "test"):
        x, y = ds.load_fashion_mnist(tmp_path, split=split, dtype="uint8")
        n = len(ref[split][0])
        assert x.shape == (n, 1, 28, 28) and x.dtype == np.uint8
        assert y.shape == (n,) and y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 0], ref[split][0])
        np.testing.assert_array_equal(y, ref[split][1])
        d = ds.load_fashion_mnist(str(tmp_path), split=split)
        assert d.x.dtype == np.float32 and d.x.shape == (n, 1, 28, 28)
        np.testing.assert_allclose(d.x[:, 0], ref[split][0] / 255.0, rtol=1e-6)
        assert 0.0 <= d.x.min() and d.x.max() <= 1.0
        assert d.class_names == ds.FASHION_MNIST_CLASSES
        assert d.name == f"fashion_mnist/{split}"


def test_fashion_mnist_class_names():
    assert ds.FASHION_MNIST_CLASSES == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
        "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_fashion_mnist_dotted_file_names(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    y = np.array([1, 2, 3], np.uint8)
    write(tmp_path / "t10k-images.idx3-ubyte", idx_bytes(x), False)
    write(tmp_path / "t10k-labels.idx1-ubyte", idx_bytes(y), False)
    xx, yy = ds.load_fashion_mnist(tmp_path, split="test", dtype="uint8")
    np.testing.assert_array_equal(xx[:, 0], x)


def test_fashion_mnist_tlearn_data(tmp_path, monkeypatch, no_default_dirs):
    (tmp_path / "fashion-mnist").mkdir()
    ref = fake_fashion(tmp_path / "fashion-mnist", n_test=7)
    monkeypatch.setenv("TLEARN_DATA", str(tmp_path))
    x, y = ds.load_fashion_mnist(split="test", dtype="uint8")
    np.testing.assert_array_equal(y, ref["test"][1])
    # $TLEARN_DATA pointing at the directory itself works too
    monkeypatch.setenv("TLEARN_DATA", str(tmp_path / "fashion-mnist"))
    assert len(ds.load_fashion_mnist(split="test")[0]) == 7


def test_fashion_mnist_missing(tmp_path, monkeypatch, no_default_dirs):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TLEARN_DATA", str(empty))
    for kwargs in ({}, {"path": empty}):
        with pytest.raises(FileNotFoundError) as info:
            ds.load_fashion_mnist(**kwargs)
        msg = str(info.value)
        assert "apt-get install dataset-fashion-mnist" in msg
        assert "TLEARN_DATA" in msg and "path=" in msg
        assert "train-images-idx3-ubyte.gz" in msg
        assert "train-labels-idx1-ubyte.gz" in msg
        assert str(empty) in msg
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz"):
        ds.load_fashion_mnist(empty, split="test")


def test_fashion_mnist_only_images_present(tmp_path, no_default_dirs):
    x = np.zeros((2, 28, 28), np.uint8)
    write(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(x), True)
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        ds.load_fashion_mnist(tmp_path)


def test_fashion_mnist_rejects_bad_files(tmp_path):
    fake_fashion(tmp_path)
    img = tmp_path / "train-images-idx3-ubyte.gz"
    lab = tmp_path / "train-labels-idx1-ubyte.gz"
    write(img, idx_bytes(np.zeros((20, 28, 27), np.uint8)), True)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: wrong IDX dimensions: expected \('\*', 28, 28\), found \(20, 28, 27\)"):
        ds.load_fashion_mnist(tmp_path)
    write(img, idx_bytes(np.zeros((20, 784), np.uint8)), True)
    with pytest.raises(ValueError, match=r"wrong IDX number of dimensions: expected 3, found 2"):
        ds.load_fashion_mnist(tmp_path)
    write(img, idx_bytes(np.zeros((20, 28, 28), np.float32), 0x0D), True)
    with pytest.raises(ValueError, match=r"wrong IDX data type: expected uint8"):
        ds.load_fashion_mnist(tmp_path)
    write(img, idx_bytes(np.zeros((20, 28, 28), np.uint8))[:-1], True)
    with pytest.raises(ValueError, match=r"truncated IDX data"):
        ds.load_fashion_mnist(tmp_path)
    write(img, idx_bytes(np.zeros((21, 28, 28), np.uint8)), True)
    with pytest.raises(ValueError, match=r"label count does not match .*expected 21 labels, found 20"):
        ds.load_fashion_mnist(tmp_path)
    write(img, idx_bytes(np.zeros((20, 28, 28), np.uint8)), True)
    write(lab, idx_bytes(np.full(20, 10, np.uint8)), True)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9, found 10"):
        ds.load_fashion_mnist(tmp_path)


def test_fashion_mnist_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"split must be 'train' or 'test', got 'valid'"):
        ds.load_fashion_mnist(tmp_path, split="valid")
    with pytest.raises(ValueError, match=r"dtype must be 'uint8' or a float dtype.*got 'int32'"):
        ds.load_fashion_mnist(tmp_path, dtype="int32")


@pytest.mark.skipif(not os.path.isdir(SYSTEM_DIR),
                    reason=f"{SYSTEM_DIR} absent (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv("TLEARN_DATA", raising=False)
    x, y = ds.load_fashion_mnist(split="train", dtype="uint8")
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [6000] * 10)
    assert x.max() == 255 and x.min() == 0
    t = ds.load_fashion_mnist(SYSTEM_DIR, split="test")
    assert t.x.shape == (10000, 1, 28, 28) and t.x.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(t.y, minlength=10), [1000] * 10)
    assert t.x.min() == 0.0 and t.x.max() == 1.0
    assert list(t.y[:3]) == [9, 2, 1]  # first test images: boot, pullover, trouser


# ------------------------------------------------------------- digits

def test_digits_shipped():
    x, y = ds.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    np.testing.assert_array_equal(
        np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    assert x.min() == 0.0 and x.max() == 1.0
    xu, yu = ds.load_digits(dtype="uint8")
    assert xu.dtype == np.uint8 and xu.min() == 0 and xu.max() == 16
    np.testing.assert_array_equal(xu / np.float32(16), x)
    np.testing.assert_array_equal(y, yu)
    # first image of the set is a 0 (the ring of sklearn's digits.images[0])
    assert y[0] == 0 and xu[0, 0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert ds.load_digits().class_names == tuple("0123456789")


def test_digits_copies_are_independent():
    a = ds.load_digits(dtype="uint8")
    a.x[...] = 99
    assert ds.load_digits(dtype="uint8").x.max() == 16


def test_shipped_checksums():
    raw = (PKG_DIR / "data" / "digits.csv.gz").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == ds.DIGITS_SHA256
    photos, names = ds.default_photos()
    assert photos.shape == (5, 128, 128, 3) and photos.dtype == np.uint8
    assert names == ("astronaut", "coffee", "chelsea", "rocket", "retina")
    assert hashlib.sha256(photos.tobytes()).hexdigest() == _data.PHOTOS_SHA256
    assert (PKG_DIR / "data" / "PHOTOS.md").is_file()
    sizes = sum(p.stat().st_size for p in (PKG_DIR / "data").iterdir() if p.name != "fashion_subset.npz")
    assert sizes < 300_000
    # the Fashion-MNIST subset for the replays (its checksum: test_replay_machinery.py)
    assert (PKG_DIR / "data" / "fashion_subset.npz").stat().st_size < 8_000_000


def test_damaged_shipped_data_detected(monkeypatch):
    real = _data._read

    def tampered(name):
        b = bytearray(real(name))
        b[100] ^= 1
        return bytes(b)

    monkeypatch.setattr(_data, "_cache", {})
    monkeypatch.setattr(_data, "_read", tampered)
    with pytest.raises(RuntimeError, match=r"data/digits\.csv\.gz is damaged or modified: expected SHA-256"):
        ds.load_digits()


# ------------------------------------------------------------ domains

@pytest.fixture(scope="module")
def digits():
    return ds.load_digits()


def test_mnist_m_shapes_ranges_determinism(digits):
    x = digits.x[:300]
    a = ds.mnist_m(x, seed=0)
    assert a.shape == (300, 3, 8, 8) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, ds.mnist_m(x, seed=0))
    assert not np.array_equal(a, ds.mnist_m(x, seed=1))
    np.testing.assert_array_equal(a, ds.mnist_m(x, seed=0, chunk=7))
    # (N, H, W) input gives the same result
    np.testing.assert_array_equal(a, ds.mnist_m(x[:, 0], seed=0))
    # the target really differs from the RGB source (a patch from a dark
    # part of a photo leaves an image nearly unchanged, so not all differ)
    src = ds.to_rgb(x)
    assert src.shape == a.shape
    per_image = np.abs(a - src).reshape(300, -1).mean(1)
    assert per_image.mean() > 0.2 and (per_image > 0.05).mean() > 0.8
    # colour: the three channels differ
    assert np.abs(a[:, 0] - a[:, 1]).mean() > 0.01


def test_mnist_m_uint8_input_matches_float():
    rng = np.random.default_rng(0)
    xu = rng.integers(0, 256, (20, 1, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(ds.mnist_m(xu, seed=3),
                               ds.mnist_m(xu / np.float32(255), seed=3),
                               atol=1e-6)


def test_mnist_m_constant_photo_is_abs_difference(digits):
    c = np.array([0.2, 0.5, 0.9], np.float32)
    photo = np.broadcast_to(c, (1, 12, 15, 3)).copy()
    x = digits.x[:50]
    out = ds.mnist_m(x, photos=photo, seed=5)
    expected = np.abs(c[None, :, None, None] - x)  # x broadcast over channels
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # a single (Hp, Wp, 3) uint8 photo works too
    out8 = ds.mnist_m(x, photos=np.full((8, 8, 3), 255, np.uint8))
    np.testing.assert_allclose(out8, 1.0 - ds.to_rgb(x), atol=1e-6)


def test_mnist_m_patches_are_contiguous_crops():
    # each photo pixel encodes (photo, row, col); with black images the
    # output is the patch itself, which must be an aligned crop
    p, hp, wp = 3, 20, 30
    photos = np.zeros((p, hp, wp, 3), np.float32)
    photos[..., 0] = np.arange(p)[:, None, None] / 10
    photos[..., 1] = np.arange(hp)[None, :, None] / 100
    photos[..., 2] = np.arange(wp)[None, None, :] / 100
    out = ds.mnist_m(np.zeros((200, 1, 6, 7), np.float32), photos=photos, seed=2)
    which = np.rint(out[:, 0, 0, 0] * 10).astype(int)
    top = np.rint(out[:, 1, 0, 0] * 100).astype(int)
    left = np.rint(out[:, 2, 0, 0] * 100).astype(int)
    for i in range(len(out)):
        crop = photos[which[i], top[i]:top[i] + 6, left[i]:left[i] + 7]
        np.testing.assert_allclose(out[i], crop.transpose(2, 0, 1), atol=1e-6)
    assert set(which) == {0, 1, 2}  # random photo
    assert top.max() <= hp - 6 and left.max() <= wp - 7
    assert len(set(zip(top, left))) > 50  # random position


def test_mnist_m_bad_inputs(digits):
    x = digits.x[:4]
    with pytest.raises(ValueError, match=r"at least as large as the images: expected Hp >= 8 and Wp >= 8, got photos of 5x20"):
        ds.mnist_m(x, photos=np.zeros((2, 5, 20, 3), np.uint8))
    with pytest.raises(ValueError, match=r"photos must have shape \(P, Hp, Wp, 3\).*got shape \(2, 3, 16, 16\)"):
        ds.mnist_m(x, photos=np.zeros((2, 3, 16, 16), np.uint8))
    with pytest.raises(ValueError, match=r"float photos must be in \[0, 1\], got values in \[255.0, 255.0\]"):
        ds.mnist_m(x, photos=np.full((1, 16, 16, 3), 255.0))
    with pytest.raises(ValueError, match=r"images must be grey.*got shape \(4, 3, 8, 8\)"):
        ds.mnist_m(ds.to_rgb(x))
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\], got values in \[0.0, 16.0\]"):
        ds.mnist_m(x * 16)
    with pytest.raises(ValueError, match=r"uint8 \(0..255\) or float.*got dtype int64"):
        ds.mnist_m(np.zeros((2, 8, 8), np.int64))
    with pytest.raises(ValueError, match=r"to_rgb: images must have shape .*got shape \(8, 8\)"):
        ds.to_rgb(np.zeros((8, 8)))


def test_to_rgb(digits):
    r = ds.to_rgb(digits.x[:5])
    assert r.shape == (5, 3, 8, 8) and r.dtype == np.float32
    for ch in range(3):
        np.testing.assert_array_equal(r[:, ch], digits.x[:5, 0])
    assert ds.to_rgb(np.zeros((2, 4, 4), np.uint8)).dtype == np.uint8


def test_rotate():
    rng = np.random.default_rng(0)
    xf = rng.random((6, 1, 9, 9)).astype(np.float32)
    xu = rng.integers(0, 256, (6, 3, 10, 10), dtype=np.uint8)
    for k in range(-3, 5):
        np.testing.assert_array_equal(ds.rotate(xf, 90 * k),
                                      np.rot90(xf, k, axes=(-2, -1)))
        np.testing.assert_array_equal(ds.rotate(xu, 90 * k),
                                      np.rot90(xu, k, axes=(-2, -1)))
    r = ds.rotate(xf, 30)
    assert r.shape == xf.shape and r.dtype == xf.dtype
    assert r.min() >= 0 and r.max() <= 1
    assert ds.rotate(xu, 17).dtype == np.uint8
    # the centre pixel of an odd-sized image is fixed
    np.testing.assert_allclose(r[:, :, 4, 4], xf[:, :, 4, 4], atol=1e-6)
    # corners come from outside the image: fill
    assert np.all(ds.rotate(np.ones((1, 9, 9)), 45, fill=0)[:, 0, 0] == 0)
    assert np.all(ds.rotate(np.zeros((1, 9, 9)), 45, fill=0.5)[:, 0, 0] == 0.5)
    # a rotation by 45 then -45 roughly restores the centre
    back = ds.rotate(ds.rotate(xf, 45), -45)
    assert np.abs(back - xf)[..., 3:6, 3:6].mean() < 0.2
    # a single (H, W) image
    assert ds.rotate(xf[0, 0], 90).shape == (9, 9)


def test_rotate_direction_is_counter_clockwise():
    img = np.zeros((5, 5), np.float32)
    img[2, 4] = 1  # right of centre
    out = ds.rotate(img, 90)
    assert out[0, 2] == 1 and out.sum() == 1  # moved to the top


def test_scale():
    x = np.zeros((1, 1, 9, 9), np.float32)
    x[..., 3:6, 3:6] = 1  # a centred 3x3 square
    np.testing.assert_array_equal(ds.scale(x, 1), x)
    # output pixel i samples input 4 + (i - 4) / factor
    big = ds.scale(x, 2)
    assert big.shape == x.shape and big.dtype == x.dtype
    np.testing.assert_allclose(big[0, 0, 4], [0, .5, 1, 1, 1, 1, 1, .5, 0])
    np.testing.assert_allclose(big[0, 0, :, 4], big[0, 0, 4])
    small = ds.scale(x, 0.5)
    np.testing.assert_allclose(small[0, 0, 4], [0, 0, 0, 0, 1, 0, 0, 0, 0])
    u = ds.scale(np.full((2, 8, 8), 200, np.uint8), 3)
    assert u.dtype == np.uint8 and np.all(u == 200)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="factor must be a positive number"):
            ds.scale(x, bad)


def test_invert_and_noise():
    xu = np.array([[0, 10, 255]], np.uint8)
    np.testing.assert_array_equal(ds.invert(xu), [[255, 245, 0]])
    np.testing.assert_allclose(ds.invert(np.float32([0.25, 1])), [0.75, 0])
    assert ds.invert(np.float32([0.25])).dtype == np.float32
    np.testing.assert_array_equal(ds.invert(np.uint8([0, 16]), max_value=16), [16, 0])

    x = np.full((200, 1, 8, 8), 0.5, np.float32)
    a = ds.add_noise(x, 0.1, seed=0)
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_array_equal(a, ds.add_noise(x, 0.1, seed=0))
    assert not np.array_equal(a, ds.add_noise(x, 0.1, seed=1))
    assert abs(float((a - x).std()) - 0.1) < 0.01
    assert ds.add_noise(x, 5.0).min() >= 0 and ds.add_noise(x, 5.0).max() <= 1
    u = ds.add_noise(np.full((100, 100), 128, np.uint8), 0.1)
    assert u.dtype == np.uint8 and abs(float(u.std()) - 25.5) < 1.5
    np.testing.assert_array_equal(ds.add_noise(x, 0), x)
    with pytest.raises(ValueError, match=r"std must be a number >= 0, got -1.0"):
        ds.add_noise(x, -1)


def test_domain_batches():
    xs = np.arange(10, dtype=np.float32)[:, None] + 100  # ids 100..109
    ys = np.arange(10) % 3
    xt = np.arange(23, dtype=np.float32)[:, None] + 200  # ids 200..222
    b = ds.domain_batches(xs, xt, 8, seed=0, ys=ys)
    assert len(b) == 6  # ceil(23 / 4)
    batches = list(b)
    assert len(batches) == 6
    seen_t = []
    for x, y, d in batches:
        assert x.shape == (8, 1) and y.dtype == np.int64 and d.dtype == np.int64
        np.testing.assert_array_equal(d, [0] * 4 + [1] * 4)
        np.testing.assert_array_equal(y[4:], -1)
        src_ids = x[:4, 0].astype(int) - 100
        np.testing.assert_array_equal(y[:4], ys[src_ids])
        assert np.all(x[4:, 0] >= 200)
        seen_t += list(x[4:, 0])
    assert set(seen_t) == set(xt[:, 0])  # one pass over the larger domain
    again = list(ds.domain_batches(xs, xt, 8, seed=0, ys=ys))
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(batches, again))
    other = list(ds.domain_batches(xs, xt, 8, seed=1, ys=ys))
    assert not all(np.array_equal(p[0], q[0]) for p, q in zip(batches, other))
    # without labels: (x, d)
    x, d = next(iter(ds.domain_batches(xs, xt, 4, n_batches=2)))
    assert x.shape == (4, 1) and list(d) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"batch_size must be an even integer >= 2.*got 7"):
        ds.domain_batches(xs, xt, 7)
    with pytest.raises(ValueError, match=r"same shape: xs has \(1,\), xt has \(2,\)"):
        ds.domain_batches(xs, np.zeros((5, 2)), 4)
    with pytest.raises(ValueError, match=r"ys must have shape \(10,\).*got \(9,\)"):
        ds.domain_batches(xs, xt, 4, ys=ys[:9])


def test_mix_domains():
    xs = np.arange(6, dtype=np.float32)[:, None]
    ys = np.array([3, 1, 4, 1, 5, 9])
    xt = np.arange(100, 104, dtype=np.float32)[:, None]
    x, y, d = ds.mix_domains(xs, ys, xt, seed=0)
    assert x.shape == (10, 1) and y.shape == d.shape == (10,)
    assert sorted(x[:, 0]) == sorted(np.concatenate([xs, xt])[:, 0])
    np.testing.assert_array_equal(d, (x[:, 0] >= 100).astype(int))
    np.testing.assert_array_equal(y[d == 1], -1)
    np.testing.assert_array_equal(y[d == 0], ys[x[d == 0, 0].astype(int)])
    assert not np.array_equal(d, np.sort(d))  # shuffled
    x2, _, _ = ds.mix_domains(xs, ys, xt, seed=0)
    np.testing.assert_array_equal(x, x2)


# ------------------------------------------------------------- splits

def test_class_split():
    y = np.repeat(np.arange(10), 7)
    s = ds.class_split(y, seed=0)
    assert len(s.classes_a) == 5 and len(s.classes_b) == 5
    assert not set(s.classes_a) & set(s.classes_b)
    assert set(s.classes_a) | set(s.classes_b) == set(range(10))
    assert not set(s.idx_a) & set(s.idx_b)
    assert sorted(np.concatenate([s.idx_a, s.idx_b])) == list(range(len(y)))
    np.testing.assert_array_equal(s.classes_a[s.y_a], y[s.idx_a])
    np.testing.assert_array_equal(s.classes_b[s.y_b], y[s.idx_b])
    assert set(s.y_a) == set(range(5)) and set(s.y_b) == set(range(5))
    assert list(ds.class_split(y, seed=0).classes_a) == list(s.classes_a)
    assert any(list(ds.class_split(y, seed=k).classes_a) != list(s.classes_a)
               for k in range(1, 5))
    g = ds.class_split(y, classes_a=[7, 2, 9])
    assert list(g.classes_a) == [7, 2, 9] and list(g.classes_b) == [0, 1, 3, 4, 5, 6, 8]
    np.testing.assert_array_equal(g.y_a, np.select(
        [y[g.idx_a] == 7, y[g.idx_a] == 2], [0, 1], 2))
    assert len(ds.class_split(y, n_a=3).classes_a) == 3
    with pytest.raises(ValueError, match=r"classes_a \[11\] do not occur in y"):
        ds.class_split(y, classes_a=[1, 11])
    with pytest.raises(ValueError, match=r"classes_a must hold 1\.\.9 of the 10 classes.*got 10"):
        ds.class_split(y, classes_a=range(10))
    with pytest.raises(ValueError, match=r"classes_a has duplicates"):
        ds.class_split(y, classes_a=[1, 1])
    with pytest.raises(ValueError, match=r"y must hold integer labels, got float64"):
        ds.class_split(y.astype(float))


def test_few_shot(digits):
    x, y = digits
    for k in (1, 5):
        xtr, ytr, xre, yre, itr, ire = ds.few_shot(x, y, k, seed=0,
                                                   return_indices=True)
        np.testing.assert_array_equal(np.bincount(ytr, minlength=10), [k] * 10)
        assert len(xtr) == 10 * k and len(xre) == len(x) - 10 * k
        assert not set(itr) & set(ire)
        assert sorted(np.concatenate([itr, ire])) == list(range(len(y)))
        np.testing.assert_array_equal(xtr, x[itr])
        np.testing.assert_array_equal(yre, y[ire])
    a = ds.few_shot(x, y, 3, seed=0)
    np.testing.assert_array_equal(a[0], ds.few_shot(x, y, 3, seed=0)[0])
    assert not np.array_equal(a[0], ds.few_shot(x, y, 3, seed=1)[0])
    xtr, ytr, xre, yre = ds.few_shot(x, y, 2, classes=[3, 8])
    assert sorted(ytr) == [3, 3, 8, 8] and set(yre) == {3, 8}
    assert len(yre) == (y == 3).sum() + (y == 8).sum() - 4
    with pytest.raises(ValueError, match=r"class 2 has 1 examples, fewer than k=2"):
        ds.few_shot(np.zeros((5, 1)), np.array([0, 0, 1, 1, 2]), 2)
    with pytest.raises(ValueError, match=r"k must be a positive integer, got 0"):
        ds.few_shot(x, y, 0)
    with pytest.raises(ValueError, match=r"same length, got 1797 and 10"):
        ds.few_shot(x, y[:10], 1)


def test_zero_shot_splits():
    seen, unseen = ds.zero_shot_split(10, 3, seed=0)
    assert len(unseen) == 3 and len(seen) == 7
    assert sorted(np.concatenate([seen, unseen])) == list(range(10))
    assert list(ds.zero_shot_split(10, 3, seed=0)[1]) == list(unseen)
    y = np.repeat(np.arange(10), 4)
    s = ds.seen_unseen_split(y, unseen=[2, 5])
    assert list(s.unseen) == [2, 5] and list(s.seen) == [0, 1, 3, 4, 6, 7, 8, 9]
    np.testing.assert_array_equal(s.mask_unseen, np.isin(y, [2, 5]))
    np.testing.assert_array_equal(s.mask_seen, ~s.mask_unseen)
    r = ds.seen_unseen_split(y, n_unseen=4, seed=1)
    assert len(r.unseen) == 4 and r.mask_unseen.sum() == 16
    with pytest.raises(ValueError, match=r"n_unseen must be in 1\.\.9, got 10"):
        ds.zero_shot_split(10, 10)
    with pytest.raises(ValueError, match=r"unseen must be 1\.\.9 distinct classes in 0\.\.9, got \[12\]"):
        ds.seen_unseen_split(y, unseen=[12])
    with pytest.raises(ValueError, match=r"give either unseen .* or n_unseen"):
        ds.seen_unseen_split(y)


def test_relabel():
    np.testing.assert_array_equal(ds.relabel([7, 2, 7, 9], [9, 7, 2]), [1, 2, 1, 0])
    with pytest.raises(ValueError, match=r"labels \[4\] are not in classes \[9, 7, 2\]"):
        ds.relabel([4], [9, 7, 2])


# ---------------------------------------------------------- attributes

@pytest.mark.parametrize("name,n_attr", [("fashion_mnist", 15), ("digits", 11)])
def test_attribute_signatures_unique(name, n_attr):
    a, names = ds.attributes(name)
    assert a.shape == (10, n_attr) and a.dtype == np.uint8
    assert len(names) == n_attr and len(set(names)) == n_attr
    assert set(np.unique(a)) <= {0, 1}
    assert len({tuple(r) for r in a}) == 10  # distinct signatures
    dist = min(int((a[i] != a[j]).sum())
               for i, j in itertools.combinations(range(10), 2))
    assert dist >= 2  # no single attribute flip maps a class onto another
    assert np.all(a.sum(0) >= 1)  # every attribute is used
    assert np.all(a.sum(1) >= 1)  # every class has an attribute


def test_attribute_tables_follow_labels():
    a, names = ds.attributes("fashion_mnist")
    col = {n: a[:, i] for i, n in enumerate(names)}
    cls = ds.FASHION_MNIST_CLASSES
    assert [cls[i] for i in np.flatnonzero(col["footwear"])] == ["Sandal", "Sneaker", "Ankle boot"]
    assert [cls[i] for i in np.flatnonzero(col["carried"])] == ["Bag"]
    assert [cls[i] for i in np.flatnonzero(col["one_piece"])] == ["Dress"]
    d, dn = ds.attributes("digits")
    assert d[8, dn.index("two_loops")] == 1 and d[1, dn.index("vertical_stroke")] == 1
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'.*\['digits', 'fashion_mnist'\]"):
        ds.attributes("cifar")


# ---------------------------------------------------------------- misc

def test_runtime_imports_are_numpy_and_stdlib_only():
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    for path in PKG_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module]
            else:
                continue
            for m in mods:
                assert m.split(".")[0] in allowed, f"{path.name} imports {m}"


def test_dataset_tuple_behaviour(digits):
    import pickle
    x, y = digits
    assert isinstance(digits, tuple) and len(digits) == 2
    assert digits.x is x and digits.y is y
    d2 = pickle.loads(pickle.dumps(digits))
    assert d2.class_names == digits.class_names and d2.name == "digits"
    np.testing.assert_array_equal(d2.x, x)
    assert "1797, 1, 8, 8" in repr(digits)
