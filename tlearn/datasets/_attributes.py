"""Class-by-attribute tables for zero-shot learning (see ``attributes``)."""

import numpy as np

__all__ = ["attributes", "ATTRIBUTE_TABLES"]

_FASHION_NAMES = (
    "upper_body", "covers_legs", "footwear", "has_sleeves", "long_sleeves",
    "front_opening", "collar", "outer_layer", "thick_fabric", "one_piece",
    "two_legs", "covers_ankle", "open_toe", "has_laces", "carried",
)
_FASHION = {
    #               up leg ft sl ls fo co ou th op tl ca ot la cr
    "T-shirt/top": (1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "Trouser":     (0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0),
    "Pullover":    (1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0),
    "Dress":       (1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0),
    "Coat":        (1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0),
    "Sandal":      (0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
    "Shirt":       (1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
    "Sneaker":     (0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    "Bag":         (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
    "Ankle boot":  (0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0),
}

_DIGIT_NAMES = (
    "closed_loop", "two_loops", "loop_upper", "loop_lower", "no_free_end",
    "vertical_stroke", "horizontal_stroke", "diagonal_stroke",
    "curved_stroke", "opens_left", "crossing",
)
_DIGITS = {
    #      cl tw lu ll nf vs hs ds cs ol cr
    "0": (1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0),
    "1": (0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0),
    "2": (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0),
    "3": (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0),
    "4": (0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1),
    "5": (0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0),
    "6": (1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0),
    "7": (0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0),
    "8": (1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1),
    "9": (1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0),
}

#: name -> (class names in label order, attribute names, rows by class).
ATTRIBUTE_TABLES = {
    "fashion_mnist": (tuple(_FASHION), _FASHION_NAMES, _FASHION),
    "digits": (tuple(_DIGITS), _DIGIT_NAMES, _DIGITS),
}
_ALIASES = {"fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist",
            "optdigits": "digits", "mnist": "digits"}


def attributes(name):
    """Class-by-attribute table of a data set, for zero-shot learning.

    A zero-shot learner trained on the seen classes predicts attributes;
    an unseen class is recognised by its attribute signature (its row).

    Parameters
    ----------
    name : {"fashion_mnist", "digits"}
        ``"digits"`` serves both ``load_digits`` and MNIST-style digits.

    Returns
    -------
    A : ndarray, shape (10, n_attr), uint8
        ``A[c, j]`` is 1 when class ``c`` (its label) has attribute ``j``.
        Rows are pairwise distinct: the minimum Hamming distance between
        two classes is 2 in both tables (Fashion-MNIST: Coat/Shirt,
        Coat/Pullover and the three footwear pairs; digits: 0/6, 2/3, 2/5,
        2/7, 3/5, 4/7), so flipping one attribute never turns one class
        into another.
    names : tuple of str, length n_attr
        Attribute names.

    Notes
    -----
    Use ``A.astype(np.float32)`` as regression or binary-classification
    targets. The reasoning behind every entry follows.

    **Fashion-MNIST** (labels 0..9: T-shirt/top, Trouser, Pullover, Dress,
    Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot), 15 attributes. The
    images are Zalando product photographs of each category; a judgement
    records what holds for the typical item of the category as it appears
    in the images.

    ``upper_body`` -- worn on the torso.
        T-shirt/top, Pullover, Coat, Shirt: by definition. Dress: covers
        the torso (bodice). Trouser, footwear, Bag: no.
    ``covers_legs`` -- covers (part of) the legs.
        Trouser: by definition. Dress: the skirt covers the thighs. Coat:
        0 -- most Fashion-MNIST coats are hip-length jackets and coats that
        stop above the knee; their silhouettes are those of upper-body
        garments.
    ``footwear`` -- worn on the feet.
        Sandal, Sneaker, Ankle boot: by definition.
    ``has_sleeves`` -- the item has sleeves.
        T-shirt/top (short sleeves; the sleeveless tops of the category are
        a minority), Pullover, Coat, Shirt: 1. Dress: 0 -- most dresses in
        the set are sleeveless or strap dresses.
    ``long_sleeves`` -- sleeves reach the wrist.
        Pullover, Coat: by definition of the categories. Shirt: the
        Fashion-MNIST shirts are mostly long-sleeved button-down shirts and
        blouses. T-shirt/top: short sleeves by definition.
    ``front_opening`` -- opens all the way down the front (buttons or zip).
        Coat: coats and jackets open at the front (Zalando category
        'coat'). Shirt: button-down shirts. Pullover: 0 -- pulled over the
        head, by definition. T-shirt, Dress: pulled on. Trouser: 0 -- a fly
        is not a full-length opening.
    ``collar`` -- has a turned collar or lapels.
        Shirt: shirt collar. Coat: collar or lapels. Pullover: 0 (crew or
        V neck). T-shirt/top: 0 (round neck; polo shirts are a minority).
        Dress: 0.
    ``outer_layer`` -- worn over other clothes.
        Coat: by definition. Pullover: worn over a shirt or T-shirt.
        Shirt, T-shirt, Dress: worn next to the skin.
    ``thick_fabric`` -- heavy or knitted material for warmth.
        Coat: padded or woollen outerwear. Pullover: knitwear and
        sweatshirts. Other garments: woven or jersey of ordinary weight
        (trousers in the set include chinos and leggings as well as jeans:
        0).
    ``one_piece`` -- one garment covering both the torso and the legs.
        Dress: by definition. No other class.
    ``two_legs`` -- has two separate leg tubes.
        Trouser: by definition.
    ``covers_ankle`` -- covers the wearer's ankle.
        Ankle boot: by definition (the shaft reaches the ankle). Trouser:
        full-length trousers reach the ankle. Sneaker: 0 -- low-top shoes
        are the large majority. Sandal: 0.
    ``open_toe`` -- toes are uncovered.
        Sandal: by definition (straps, open front). Sneaker, Ankle boot:
        closed toe.
    ``has_laces`` -- fastened with laces.
        Sneaker: laced athletic shoes. Ankle boot: 0 -- the set's ankle
        boots are mostly heeled boots with a side zip or elastic (Chelsea)
        sides. Sandal: straps and buckles.
    ``carried`` -- carried, not worn, with a handle or strap for it.
        Bag: handbags, totes and shoulder bags, all with handles or straps.

    **Digits** (labels 0..9), 11 attributes of the strokes as the digits
    are drawn in the standard print forms, which is also how the optdigits
    writers drew them on the NIST handprint forms: a one-stroke "1" without
    a base, an open-top "4" (a slanted left arm down to a crossbar that
    crosses the vertical stem; the arm does not meet the stem at the top),
    an uncrossed "7".

    ``closed_loop`` -- a stroke encloses a region: 0, 6, 8, 9. 4 is taken
        in its open-top handwritten form (0), not the closed typeset form
        whose arm, crossbar and stem enclose a triangle.
    ``two_loops`` -- two enclosed regions: 8.
    ``loop_upper`` -- a loop confined to the upper half: 8 (upper), 9.
    ``loop_lower`` -- a loop confined to the lower half: 8 (lower), 6.
        0's single loop spans the full height, so it is neither.
    ``no_free_end`` -- drawn without stroke end points: 0 and 8 (closed
        figures); every other digit has at least one free end.
    ``vertical_stroke`` -- a straight vertical stroke: 1 (the whole
        digit), 4 (stem), 5 (short left side below the bar), 9 (the tail
        below the loop, vertical in print form).
    ``horizontal_stroke`` -- a straight horizontal stroke: 2 (base), 4
        (crossbar), 5 (top bar), 7 (top bar).
    ``diagonal_stroke`` -- a straight slanted stroke: 2 (from the arc down
        to the base), 4 (the slanted left arm), 7 (the stem).
    ``curved_stroke`` -- a curved stroke: 0, 2 (top arc), 3, 5 (bowl), 6,
        8, 9.
    ``opens_left`` -- a curve open towards the left (a reversed "C"): 2
        (top arc), 3 (both bowls), 5 (lower bowl).
    ``crossing`` -- two strokes cross: 4 (the crossbar crosses the stem),
        8 (the strokes cross at the waist).
    """
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in ATTRIBUTE_TABLES:
        raise ValueError(
            f"attributes: unknown data set {name!r}: expected one of "
            f"{sorted(ATTRIBUTE_TABLES)}")
    _, attr_names, rows = ATTRIBUTE_TABLES[key]
    a = np.array(list(rows.values()), dtype=np.uint8)
    return a, attr_names
