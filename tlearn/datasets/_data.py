"""Access to the data files shipped in ``tlearn/datasets/data/``.

Every file is verified against a SHA-256 digest recorded here, so a
damaged or modified installation is reported instead of silently giving
wrong data.
"""

import hashlib
import io
from importlib import resources

import numpy as np

#: SHA-256 of the file ``digits.csv.gz`` (identical to scikit-learn's copy).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
#: SHA-256 of ``photos.tobytes()`` for the array stored in ``photos.npz``.
#: (The array content is hashed, so the check does not depend on how the
#: .npz container was written.)
PHOTOS_SHA256 = "b689275800ca2e2cba24c4a0deef1ccdb21e557399d0acf66fd64846cbe3421a"

#: SHA-256 of the bytes of x_train, y_train, x_test, y_test (in that order)
#: stored in ``fashion_subset.npz`` (made by ``tools/make_fashion_subset.py``).
FASHION_SUBSET_SHA256 = "0065ed5f9f2d2f512ebf7a3d6bebdcb96656db1de81926291197401d8592a015"

_cache = {}


def _read(name):
    return (resources.files(__package__) / "data" / name).read_bytes()


def _check(name, digest, expected):
    if digest != expected:
        raise RuntimeError(
            f"tlearn.datasets: shipped data file data/{name} is damaged or "
            f"modified: expected SHA-256 {expected}, found {digest}. "
            f"Reinstall tlearn.")


def digits_raw():
    """(pixels uint8 (1797, 64), labels uint8 (1797,)), checksum verified."""
    if "digits" not in _cache:
        raw = _read("digits.csv.gz")
        _check("digits.csv.gz", hashlib.sha256(raw).hexdigest(), DIGITS_SHA256)
        import gzip
        table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",",
                           dtype=np.uint8)
        _cache["digits"] = (table[:, :64].copy(), table[:, 64].copy())
    return _cache["digits"]


def photos_raw():
    """(photos uint8 (P, 128, 128, 3), names tuple), checksum verified."""
    if "photos" not in _cache:
        with np.load(io.BytesIO(_read("photos.npz")), allow_pickle=False) as z:
            photos = np.ascontiguousarray(z["photos"])
            names = tuple(str(n) for n in z["names"])
        _check("photos.npz", hashlib.sha256(photos.tobytes()).hexdigest(),
               PHOTOS_SHA256)
        photos.setflags(write=False)
        _cache["photos"] = (photos, names)
    return _cache["photos"]


def fashion_subset_raw():
    """dict x_train (12000, 28, 28), y_train, x_test (2000, 28, 28), y_test,
    all uint8, checksum verified (a balanced subset of Fashion-MNIST)."""
    if "fashion" not in _cache:
        with np.load(io.BytesIO(_read("fashion_subset.npz")), allow_pickle=False) as z:
            arrays = {k: np.ascontiguousarray(z[k]) for k in ("x_train", "y_train", "x_test", "y_test")}
        h = hashlib.sha256()
        for k in ("x_train", "y_train", "x_test", "y_test"):
            h.update(arrays[k].tobytes())
        _check("fashion_subset.npz", h.hexdigest(), FASHION_SUBSET_SHA256)
        for a in arrays.values():
            a.setflags(write=False)
        _cache["fashion"] = arrays
    return _cache["fashion"]
