"""Rebuild the data files shipped in ``tlearn/datasets/data/``.

Produces

* ``digits.csv.gz`` -- the UCI ML optdigits test set (1,797 8x8 images,
  values 0..16, last column the label), copied byte for byte from the
  scikit-learn wheel (``sklearn/datasets/data/digits.csv.gz``).
* ``photos.npz`` -- a few public-domain / CC0 colour photographs from the
  scikit-image wheel (``skimage/data/``), centre-cropped to a square and
  downscaled to 128x128 RGB uint8, used by ``tlearn.datasets.mnist_m``.

and prints their SHA-256 digests (``tlearn/datasets/_data.py`` checks the
file digest of ``digits.csv.gz`` and the array digest of the photographs).

This script is a build-time tool only: it needs the two wheels (fetched
with ``pip download scikit-learn scikit-image --no-deps -d DIR``) and
Pillow to decode PNG/JPEG.  tlearn itself needs neither at run time.

Usage::

    pip download scikit-learn scikit-image --no-deps -d /tmp/wheels
    pip install pillow
    python tools/make_digits.py /tmp/wheels
"""

import glob
import hashlib
import io
import os
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, os.pardir, "tlearn", "datasets", "data")

# (name in the npz, file inside the scikit-image wheel)
PHOTOS = [
    ("astronaut", "skimage/data/astronaut.png"),
    ("coffee", "skimage/data/coffee.png"),
    ("chelsea", "skimage/data/chelsea.png"),
    ("rocket", "skimage/data/rocket.jpg"),
    ("retina", "skimage/data/retina.jpg"),
]
SIZE = 128


def _wheel(directory, prefix):
    found = sorted(glob.glob(os.path.join(directory, prefix + "-*.whl")))
    if not found:
        raise SystemExit(f"no {prefix}-*.whl in {directory}")
    return zipfile.ZipFile(found[-1])


def _square_resize(img, size):
    from PIL import Image

    img = img.convert("RGB")
    w, h = img.size
    if img.size == (1411, 1411):  # retina: keep the central, illuminated part
        m = 1411 // 4
        img = img.crop((m, m, w - m, h - m))
        w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s))
    img = img.resize((size, size), Image.LANCZOS)
    arr = np.asarray(img, dtype=np.uint8)
    assert arr.shape == (size, size, 3)
    return arr


def main(wheels):
    from PIL import Image

    os.makedirs(OUT, exist_ok=True)
    skl = _wheel(wheels, "scikit_learn")
    raw = skl.read("sklearn/datasets/data/digits.csv.gz")
    with open(os.path.join(OUT, "digits.csv.gz"), "wb") as f:
        f.write(raw)
    print("digits.csv.gz", len(raw), hashlib.sha256(raw).hexdigest())

    ski = _wheel(wheels, "scikit_image")
    arrays = []
    for name, member in PHOTOS:
        img = Image.open(io.BytesIO(ski.read(member)))
        arrays.append(_square_resize(img, SIZE))
    path = os.path.join(OUT, "photos.npz")
    np.savez_compressed(path, photos=np.stack(arrays),
                        names=np.array([n for n, _ in PHOTOS]))
    with open(path, "rb") as f:
        data = f.read()
    print("photos.npz", len(data), hashlib.sha256(data).hexdigest(),
          "array:", hashlib.sha256(np.stack(arrays).tobytes()).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wheels")
