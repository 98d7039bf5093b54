"""Domain shifts for domain-adaptation experiments.

Conventions shared by every function here:

* Images are NumPy arrays whose last two axes are (H, W): (N, H, W),
  (N, C, H, W) (NCHW), or a single (H, W) image where stated.
* The value range follows the dtype: uint8 images are in 0..255, float
  images in [0, 1] (``invert`` and ``add_noise`` take ``max_value`` to
  change that, e.g. 16 for the uint8 output of ``load_digits``).
* ``rotate``, ``scale``, ``invert``, ``add_noise`` and ``to_rgb`` return the
  dtype they are given; ``mnist_m`` always returns float32 in [0, 1].
* Everything random takes a ``seed`` and gives the same result for the same
  seed (``numpy.random.default_rng(seed)``).
"""

import math
import numbers

import numpy as np

from ._data import photos_raw

__all__ = ["mnist_m", "to_rgb", "default_photos", "rotate", "scale",
           "invert", "add_noise"]


# ----------------------------------------------------------------- helpers

def _as_array(images, name, caller, min_ndim=2):
    a = np.asarray(images)
    if a.ndim < min_ndim:
        raise ValueError(
            f"{caller}: {name} must have at least {min_ndim} dimensions "
            f"(..., H, W), got shape {a.shape}")
    if a.dtype != np.uint8 and a.dtype.kind != "f":
        raise ValueError(
            f"{caller}: {name} must be uint8 (0..255) or float (0..1), "
            f"got dtype {a.dtype}")
    return a


def _grey_batch(images, caller):
    """(N,H,W) or (N,1,H,W), uint8 or float -> float32 (N,H,W) in [0,1]."""
    a = _as_array(images, "images", caller, min_ndim=3)
    if a.ndim == 4:
        if a.shape[1] != 1:
            raise ValueError(
                f"{caller}: images must be grey, shape (N, 1, H, W) or "
                f"(N, H, W), got shape {a.shape} ({a.shape[1]} channels)")
        a = a[:, 0]
    elif a.ndim != 3:
        raise ValueError(
            f"{caller}: images must have shape (N, 1, H, W) or (N, H, W), "
            f"got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    _check_unit_range(a, "images", caller)
    return a.astype(np.float32, copy=False)


def _check_unit_range(a, name, caller):
    if a.size:
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
            raise ValueError(
                f"{caller}: float {name} must be in [0, 1], got values in "
                f"[{lo}, {hi}] (pass uint8 for 0..255 data)")


def _number(value, name, caller, expected, ok=None):
    """``value`` as a finite float, or a ValueError (TypeError for a
    non-number) naming the setting, what was expected and what came."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)) or (
            isinstance(value, np.ndarray) and (value.ndim != 0 or value.dtype.kind not in "iuf")):
        raise TypeError(f"{caller}: {name} must be {expected}, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v) or (ok is not None and not ok(v)):
        raise ValueError(f"{caller}: {name} must be {expected}, got {v}")
    return v


def _max_value(a, max_value, caller):
    """The top of the value range: ``max_value`` checked against the dtype, or the dtype's default."""
    if max_value is None:
        return 255 if a.dtype == np.uint8 else 1.0
    if a.dtype == np.uint8:
        return _number(max_value, "max_value", caller, "a number in (0, 255] for uint8 images",
                       lambda v: 0 < v <= 255)
    big = float(np.finfo(a.dtype).max)  # the result is of the images' dtype
    return _number(max_value, "max_value", caller, f"a positive finite number (at most {big:.3g} for {a.dtype})",
                   lambda v: 0 < v <= big)


def _check_range(a, top, caller):
    """The images' values must lie in [0, top] (the value range the setting names)."""
    if a.size and a.dtype != np.uint8 or (a.size and top < 255):
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (lo >= 0.0 and hi <= top):  # also catches NaN
            raise ValueError(f"{caller}: images must hold values in [0, max_value={top:g}], got values in "
                             f"[{lo:g}, {hi:g}] (pass max_value for another range)")


def _fill(fill, a, caller):
    if a.dtype == np.uint8:
        return _number(fill, "fill", caller, "a number in [0, 255] for uint8 images", lambda v: 0 <= v <= 255)
    big = float(np.finfo(np.float32).max) / 4  # the interpolation runs in float32: no overflow on the way
    return _number(fill, "fill", caller, f"a finite number with |fill| <= {big:.3g}", lambda v: abs(v) <= big)


def _cast_like(values, like, max_value):
    """float result -> dtype of ``like``, clipped to [0, max_value]."""
    if like.dtype == np.uint8:
        return np.clip(np.rint(values), 0, max_value).astype(np.uint8)
    return np.clip(values, 0, max_value).astype(like.dtype, copy=False)


# ----------------------------------------------------------------- MNIST-M

def default_photos():
    """The colour photographs shipped with tlearn for ``mnist_m``.

    Five photographs from scikit-image's sample data, each public domain or
    CC0 (astronaut Eileen Collins -- NASA; coffee cup -- Rachel Michetti;
    Chelsea the cat -- Stefan van der Walt; DSCOVR launch -- SpaceX; retina
    -- Mikael Haggstrom), centre-cropped and downscaled to 128x128. Sources
    and licences: ``tlearn/datasets/data/PHOTOS.md``.

    Returns
    -------
    photos : ndarray, shape (5, 128, 128, 3), uint8, read-only
        RGB photographs (HWC per photo).
    names : tuple of str
        ``("astronaut", "coffee", "chelsea", "rocket", "retina")``.
    """
    return photos_raw()


def _photo_batch(photos, h, w):
    caller = "mnist_m"
    p = _as_array(photos, "photos", caller, min_ndim=3)
    if p.ndim == 3:
        p = p[None]
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(
            f"{caller}: photos must have shape (P, Hp, Wp, 3) (RGB, channels "
            f"last) or (Hp, Wp, 3), got shape {np.shape(photos)}")
    if len(p) == 0:
        raise ValueError(f"{caller}: photos is empty (shape {p.shape})")
    if p.shape[1] < h or p.shape[2] < w:
        raise ValueError(
            f"{caller}: photos must be at least as large as the images: "
            f"expected Hp >= {h} and Wp >= {w}, got photos of "
            f"{p.shape[1]}x{p.shape[2]}")
    if p.dtype != np.uint8:
        _check_unit_range(p, "photos", caller)
    return p


def mnist_m(images, photos=None, seed=0, chunk=8192):
    """Blend grey images with colour photographs, as in MNIST-M.

    The recipe of Ganin et al., "Domain-Adversarial Training of Neural
    Networks" (JMLR 2016), section 5.2.2: for every image a patch of the
    image's size is cut at a random position from a randomly chosen colour
    photograph, and the target image is the per-pixel, per-channel absolute
    difference ``|patch - image|``. Strokes therefore take the inverted
    colours of the photograph, the background keeps them.

    Parameters
    ----------
    images : ndarray, shape (N, 1, H, W) or (N, H, W)
        Grey images, uint8 (0..255) or float in [0, 1].
    photos : ndarray, shape (P, Hp, Wp, 3) or (Hp, Wp, 3), optional
        RGB photographs (channels last), uint8 or float in [0, 1], with
        ``Hp >= H`` and ``Wp >= W``. Default: the five 128x128 photographs
        shipped with tlearn (see ``default_photos``).
    seed : int
        Seed of the choice of photo and patch position.
    chunk : int
        Number of images processed at once (bounds the memory used; does
        not change the result).

    Returns
    -------
    ndarray, shape (N, 3, H, W), float32 in [0, 1]
        The target-domain images, NCHW with three (RGB) channels. Pair them
        with ``to_rgb(images)`` (same shape) for the source domain.

    Notes
    -----
    Vectorised: the photo indices and patch positions are drawn at once,
    the patches gathered by fancy indexing, ``chunk`` images at a time.
    """
    x = _grey_batch(images, "mnist_m")
    n, h, w = x.shape
    if photos is None:
        photos = default_photos()[0]
    p = _photo_batch(photos, h, w)
    ph, pw = p.shape[1], p.shape[2]
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(p), size=n)
    top = rng.integers(0, ph - h + 1, size=n)
    left = rng.integers(0, pw - w + 1, size=n)
    rows = np.arange(h)
    cols = np.arange(w)
    out = np.empty((n, 3, h, w), np.float32)
    to_unit = (np.float32(1 / 255) if p.dtype == np.uint8 else np.float32(1))
    if isinstance(chunk, (bool, np.bool_)) or not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"mnist_m: chunk must be a positive int, got {chunk!r}")
    chunk = int(chunk)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        r = top[s:e, None, None] + rows[None, :, None]
        c = left[s:e, None, None] + cols[None, None, :]
        patch = p[which[s:e, None, None], r, c]          # (n, h, w, 3)
        patch = patch.astype(np.float32) * to_unit
        diff = np.abs(patch - x[s:e, :, :, None])
        out[s:e] = diff.transpose(0, 3, 1, 2)
    np.clip(out, 0, 1, out=out)
    return out


def to_rgb(images):
    """Repeat a grey image over three channels (the MNIST-M source domain).

    Parameters
    ----------
    images : ndarray, shape (N, 1, H, W) or (N, H, W)
        Grey images, any dtype.

    Returns
    -------
    ndarray, shape (N, 3, H, W)
        Same dtype and values as ``images``. For a source/target pair of
        the same shape and dtype pass float images in [0, 1] (the default
        of the loaders) to both ``to_rgb`` and ``mnist_m``.
    """
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] != 1:
        raise ValueError(
            f"to_rgb: images must have shape (N, 1, H, W) or (N, H, W), "
            f"got shape {np.shape(images)}")
    return np.repeat(a, 3, axis=1)


# ------------------------------------------------------ geometric shifts

def _warp(images, inv, fill, caller, chunk=4096):
    """Apply an affine map about the image centre with bilinear sampling.

    ``inv`` is the 2x2 matrix taking output offsets (dy, dx) from the
    centre to input offsets. Samples outside the image take ``fill``.
    Processed ``chunk`` images at a time to bound memory.
    """
    a = _as_array(images, "images", caller)
    h, w = a.shape[-2:]
    flat = a.reshape(-1, h, w)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    sy = inv[0, 0] * yy + inv[0, 1] * xx + cy
    sx = inv[1, 0] * yy + inv[1, 1] * xx + cx
    # Snap coordinates that are integers up to rounding (e.g. 90 degrees),
    # so that exact rotations and identity maps are exact.
    sy = np.where(np.abs(sy - np.rint(sy)) < 1e-9, np.rint(sy), sy)
    sx = np.where(np.abs(sx - np.rint(sx)) < 1e-9, np.rint(sx), sx)
    y0 = np.floor(sy).astype(np.intp)
    x0 = np.floor(sx).astype(np.intp)
    fy = (sy - y0).astype(np.float32)
    fx = (sx - x0).astype(np.float32)
    # In an image padded by one pixel of ``fill``, input row r is padded
    # row r + 1. Clipping to the padded border maps every outside sample
    # onto the padding, i.e. onto ``fill``.
    ya = np.clip(y0 + 1, 0, h + 1)
    yb = np.clip(y0 + 2, 0, h + 1)
    xa = np.clip(x0 + 1, 0, w + 1)
    xb = np.clip(x0 + 2, 0, w + 1)
    w_aa = (1 - fy) * (1 - fx)
    w_ab = (1 - fy) * fx
    w_ba = fy * (1 - fx)
    w_bb = fy * fx
    out = np.empty(flat.shape, a.dtype)
    for s in range(0, len(flat), chunk):
        pad = np.pad(flat[s:s + chunk].astype(np.float32),
                     ((0, 0), (1, 1), (1, 1)), constant_values=fill)
        v = (w_aa * pad[:, ya, xa] + w_ab * pad[:, ya, xb]
             + w_ba * pad[:, yb, xa] + w_bb * pad[:, yb, xb])
        if a.dtype == np.uint8:
            v = np.clip(np.rint(v), 0, 255)
        out[s:s + chunk] = v
    return out.reshape(a.shape)


def rotate(images, degrees, fill=0):
    """Rotate images about their centre by a fixed angle, keeping the size.

    Inverse mapping with bilinear interpolation, NumPy only; corners that
    come from outside the image take ``fill``.

    Parameters
    ----------
    images : ndarray, shape (..., H, W)
        E.g. (N, 1, H, W), (N, 3, H, W), (N, H, W) or one (H, W) image;
        uint8 or float.
    degrees : float
        Finite angle, counter-clockwise as displayed (row 0 at the top), like
        ``numpy.rot90``: ``rotate(x, 90)`` equals ``np.rot90(x, 1,
        axes=(-2, -1))`` for square images.
    fill : float
        Value for pixels that come from outside the image (0: black);
        in 0..255 for uint8 images, at most 8.5e37 in magnitude for floats.

    Returns
    -------
    ndarray, same shape and dtype as ``images``
        uint8 results are rounded; floats stay in the input's range.
    """
    degrees = _number(degrees, "degrees", "rotate", "a finite number of degrees")
    fill = _fill(fill, _as_array(images, "images", "rotate"), "rotate")
    # fmod is exact: a huge angle is its exact remainder, not cos/sin of a rounded radian value
    t = np.deg2rad(math.fmod(degrees, 360.0))
    c, s = np.cos(t), np.sin(t)
    # The output pixel at offset (dy, dx) from the centre (dy downwards)
    # comes from the input offset rotated by -t in the displayed frame
    # (x right, y up): dy_in = c*dy + s*dx, dx_in = -s*dy + c*dx.
    inv = np.array([[c, s], [-s, c]])
    return _warp(images, inv, fill, "rotate")


_MIN_FACTOR = 1e-6  # beyond 1e6 either way the sampling coordinates lose every pixel of precision


def scale(images, factor, fill=0):
    """Zoom images about their centre, keeping the size.

    Parameters
    ----------
    images : ndarray, shape (..., H, W)
        uint8 or float.
    factor : float
        ``> 1`` zooms in (the border is cropped away), ``< 1`` zooms out
        (the image shrinks and the border takes ``fill``). Must be in
        [1e-6, 1e6].
    fill : float
        Value for pixels that come from outside the image; in 0..255 for
        uint8 images, at most 8.5e37 in magnitude for floats.

    Returns
    -------
    ndarray, same shape and dtype as ``images``
        Bilinear interpolation; uint8 results are rounded.
    """
    factor = _number(factor, "factor", "scale", f"a positive number in [{_MIN_FACTOR:g}, {1 / _MIN_FACTOR:g}]",
                     lambda v: _MIN_FACTOR <= v <= 1 / _MIN_FACTOR)
    fill = _fill(fill, _as_array(images, "images", "scale"), "scale")
    inv = np.eye(2) / factor
    return _warp(images, inv, fill, "scale")


# ------------------------------------------------- photometric shifts

def invert(images, max_value=None):
    """Negative image: ``max_value - images``.

    Parameters
    ----------
    images : ndarray, any shape
        uint8 or float.
    max_value : float, optional
        Top of the value range: default 255 for uint8, 1.0 for floats
        (pass 16 for ``load_digits(dtype="uint8")``); in (0, 255] for
        uint8, positive for floats.  The images must lie in
        [0, max_value].

    Returns
    -------
    ndarray, same shape and dtype as ``images``
    """
    a = _as_array(images, "images", "invert", min_ndim=0)
    m = _max_value(a, max_value, "invert")
    _check_range(a, m, "invert")
    return _cast_like(m - a.astype(np.float64), a, m)


def add_noise(images, std, seed=0, max_value=None):
    """Add Gaussian noise, clipped to the value range.

    Parameters
    ----------
    images : ndarray, any shape
        uint8 or float.
    std : float
        Standard deviation as a fraction of the value range: ``std=0.1``
        adds noise of standard deviation 0.1 to float images in [0, 1] and
        25.5 to uint8 images in 0..255, so the same ``std`` gives the same
        shift whatever the dtype. Must be >= 0.
    seed : int
        Seed of the noise.
    max_value : float, optional
        Top of the value range: default 255 for uint8, 1.0 for floats; in
        (0, 255] for uint8, positive for floats.  The images must lie in
        [0, max_value].

    Returns
    -------
    ndarray, same shape and dtype as ``images``
        ``clip(images + noise, 0, max_value)``, rounded for uint8.
    """
    a = _as_array(images, "images", "add_noise", min_ndim=0)
    std = _number(std, "std", "add_noise", "a number >= 0", lambda v: v >= 0)
    m = _max_value(a, max_value, "add_noise")
    _check_range(a, m, "add_noise")
    if not math.isfinite(std * m):
        raise ValueError(f"add_noise: std must be a number >= 0 whose noise (std * max_value) is finite, "
                         f"got std={std} with max_value={m:g}")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(a.shape) * (std * m)
    return _cast_like(a.astype(np.float64) + noise, a, m)
