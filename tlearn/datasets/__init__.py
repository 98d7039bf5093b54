"""Data for transfer-learning experiments, offline and reproducible.

Needs only NumPy. Images are returned in NCHW layout, (N, C, H, W), the
layout of the convolutional layers: grey data sets have one channel,
(N, 1, H, W); use ``x.reshape(len(x), -1)`` for dense networks. Float
images are in [0, 1], labels are int64. Everything random takes a ``seed``.

Data sets
---------
load_fashion_mnist
    Fashion-MNIST from its IDX files (Debian: ``apt-get install
    dataset-fashion-mnist``; or ``$TLEARN_DATA``; or ``path=``).
load_fashion_subset
    A balanced 12,000 + 2,000 image subset of Fashion-MNIST shipped inside
    tlearn (Zalando Research, MIT licence).
load_digits
    1,797 8x8 handwritten digits shipped inside tlearn (UCI ML optdigits,
    E. Alpaydin & C. Kaynak, CC BY 4.0).
read_idx, write_idx
    The IDX file format, validated.
FASHION_MNIST_CLASSES, DIGITS_CLASSES
    Class names by label.

Domains
-------
mnist_m, to_rgb, default_photos
    MNIST-M style target domain (``|photo patch - image|``) and the matching
    RGB source domain; five public-domain/CC0 photographs are shipped.
rotate, scale, invert, add_noise
    Other domain shifts.

Splits and samplers
-------------------
class_split, few_shot, zero_shot_split, seen_unseen_split, relabel
    Class splits for transfer between tasks, k-shot samplers, seen/unseen
    classes for zero-shot learning.
domain_batches, mix_domains
    Half-source/half-target batches with domain labels (0 source,
    1 target), and one shuffled mixed set, for domain-adversarial training.
attributes
    Class-by-attribute tables for zero-shot learning.

Examples
--------
>>> from tlearn import datasets
>>> x, y = datasets.load_digits()
>>> x.shape, y.shape
((1797, 1, 8, 8), (1797,))
>>> xt = datasets.mnist_m(x, seed=0)
>>> xt.shape
(1797, 3, 8, 8)
"""

from ._base import Dataset
from ._idx import IDX_DTYPES, read_idx, write_idx
from ._attributes import ATTRIBUTE_TABLES, attributes
from .digits import DIGITS_CLASSES, DIGITS_SHA256, load_digits
from .domains import (add_noise, default_photos, invert, mnist_m, rotate,
                      scale, to_rgb)
from .fashion_mnist import (DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES,
                            FASHION_MNIST_FILES, load_fashion_mnist,
                            load_fashion_subset)
from .splits import (ClassSplit, SeenUnseenSplit, class_split, few_shot,
                     relabel, seen_unseen_split, zero_shot_split)
from .batches import (DomainBatches, domain_batches, mix_domains,
                      permutation_stream)

__all__ = [
    "Dataset", "read_idx", "write_idx", "IDX_DTYPES",
    "load_fashion_mnist", "load_fashion_subset", "FASHION_MNIST_CLASSES", "FASHION_MNIST_FILES",
    "DEFAULT_FASHION_MNIST_DIR",
    "load_digits", "DIGITS_CLASSES", "DIGITS_SHA256",
    "mnist_m", "to_rgb", "default_photos", "rotate", "scale", "invert",
    "add_noise", "domain_batches", "DomainBatches", "mix_domains", "permutation_stream",
    "class_split", "ClassSplit", "few_shot", "zero_shot_split",
    "seen_unseen_split", "SeenUnseenSplit", "relabel",
    "attributes", "ATTRIBUTE_TABLES",
]
