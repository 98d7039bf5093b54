"""Weights in files and in lists, as Keras's verbs expect them: the file
names tlearn writes (a model file ``.tlm``, a weights file ``.npz``), the
refusal of a name that promises another library's format, the weights files
``load_weights(path)`` reads, and the hint for a state dict whose names are
positions (``torch.nn.Sequential``'s ``"0.weight"``) rather than layer names."""
from __future__ import annotations

import io as _bio
import os
import re
from typing import Dict, Iterable, List

import numpy as np

from . import io

# extensions that promise a format tlearn does not write, and what to do instead
_FOREIGN = {
    ".h5": "HDF5 (Keras's)", ".hdf5": "HDF5 (Keras's)", ".keras": "Keras's zip", ".pt": "PyTorch's",
    ".pth": "PyTorch's", ".onnx": "ONNX", ".pkl": "a pickle", ".pickle": "a pickle", ".joblib": "joblib's",
    ".safetensors": "safetensors", ".json": "JSON", ".npz": "NumPy's npz", ".npy": "NumPy's npy",
}
_INSTEAD = {
    ".pt": "for PyTorch, torch.save({k: torch.from_numpy(v) for k, v in model.state_dict(format='torch').items()}, "
           "path)",
    ".pth": "for PyTorch, torch.save({k: torch.from_numpy(v) for k, v in model.state_dict(format='torch').items()}, "
            "path)",
    ".pkl": "pickle.dump(model, f) pickles a model (its bytes are the model file's)",
    ".pickle": "pickle.dump(model, f) pickles a model (its bytes are the model file's)",
    ".npz": "model.save_weights(path) writes the weights alone as .npz",
    ".npy": "model.save_weights(path + '.npz') writes the weights alone as .npz",
}


def _ext(path) -> str:
    return os.path.splitext(os.fspath(path))[1].lower()


def check_model_path(path) -> None:
    """Refuse a model file name whose extension promises another format than tlearn's (``.tlm``)."""
    ext = _ext(path)
    if ext in _FOREIGN:
        alt = _INSTEAD.get(ext, "tlearn has no writer for it")
        raise ValueError(f"model.save({os.fspath(path)!r}): the name promises {_FOREIGN[ext]} format, but "
                         f"model.save writes tlearn's own model file; name it '.tlm' "
                         f"({os.path.splitext(os.fspath(path))[0]}.tlm; tlearn.load reads it). {alt[0].upper()}"
                         f"{alt[1:]}.")


def check_weights_path(path) -> None:
    """Refuse a weights file name that promises anything but NumPy's ``.npz``."""
    ext = _ext(path)
    if ext == ".tlm":
        raise ValueError(f"save_weights({os.fspath(path)!r}): '.tlm' is the model file (architecture, weights and "
                         "optimizer state) that model.save writes; save_weights writes the weights alone as "
                         "NumPy's .npz")
    if ext in _FOREIGN and ext != ".npz":
        raise ValueError(f"save_weights({os.fspath(path)!r}): the name promises {_FOREIGN[ext]} format, but "
                         "save_weights writes NumPy's .npz (arrays by tlearn's parameter names, "
                         "numpy.load reads it); name it '.npz'")


def write_npz(path, weights: Dict[str, np.ndarray]) -> None:
    """``weights`` as NumPy's ``.npz``, written atomically."""
    buf = _bio.BytesIO()
    np.savez(buf, **weights)
    io.write_atomic(path, buf.getvalue())


def read(path) -> Dict[str, np.ndarray]:
    """The weights of a weights file (``.npz``) or a model file (``.tlm``), by parameter name."""
    p = os.fspath(path)
    with open(p, "rb") as f:
        head = f.read(8)
    if head == io.MAGIC:
        _, arrays = io.read(p)
        return {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("value/")}
    if head[:2] == b"PK":
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    ext = _ext(p)
    what = f" ({_FOREIGN[ext]} by its name)" if ext in _FOREIGN else ""
    raise ValueError(f"load_weights({p!r}): not a weights file tlearn reads{what}; expected NumPy's .npz "
                     "(model.save_weights) or a tlearn model file (model.save). A PyTorch file: "
                     "model.load_weights(torch.load(path)); a dict of arrays loads as it is")


_POSITION = re.compile(r"^(?:.*\.)?\d+$")  # a module path ending in a number: nn.Sequential's children


def positional_hint(keys: Iterable, layer_params: Dict[str, List[str]]) -> str:
    """For names such as ``'0.weight'``: how to map them onto the model's layers.

    ``layer_params``: the parametric layers of the model in order, each with its
    parameter names.  Empty when the keys do not look positional."""
    modules: List[str] = []
    for k in keys:
        if isinstance(k, str) and "." in k:
            mod = k.rsplit(".", 1)[0]
            if _POSITION.match(mod) and mod not in modules:
                modules.append(mod)
    if not modules:
        return ""
    layers = [l for l, ps in layer_params.items() if ps]
    text = (f"; names such as {modules[0] + '.weight'!r} are positions (a torch.nn.Sequential numbers its "
            "modules), and tlearn matches layer names, not positions: rename each module to a layer")
    if len(modules) == len(layers):
        mapping = dict(zip(modules, layers))
        text += (f". In order, this model's layers give mapping = {mapping!r}; then model.load_weights("
                 "{mapping[k.rsplit('.', 1)[0]] + '.' + k.rsplit('.', 1)[1]: v for k, v in sd.items() "
                 "if k.rsplit('.', 1)[0] in mapping})")
    else:
        text += f" (this model's layers with parameters, in order: {layers})"
    return text
