"""Reader and writer for the IDX file format (MNIST, Fashion-MNIST, ...).

An IDX file is::

    bytes 0-1   zero
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions ``ndim``
    then        ``ndim`` big-endian uint32 dimension sizes
    then        the data, big-endian, C order

optionally compressed with gzip.
"""

import gzip
import os
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

#: IDX type code -> NumPy dtype (big-endian, as stored in the file).
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("=").str[1:]: code for code, dt in IDX_DTYPES.items()}

_MAX_NDIM = 16
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    """Return the (decompressed) content of ``path``.

    gzip is recognised by its magic bytes, not by the file name, so a
    gzipped file without ``.gz`` (or the reverse) is read correctly.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as e:
        raise ValueError(
            f"{path}: gzip stream is truncated (compressed file ended before "
            f"the end-of-stream marker; {len(raw)} bytes on disk): {e}") from None
    except (OSError, zlib.error) as e:
        raise ValueError(
            f"{path}: gzip data is corrupt (bad CRC, length or deflate "
            f"stream): {e}") from None


def read_idx(path, expected_dtype=None, expected_ndim=None,
             expected_shape=None):
    """Read an IDX file (gzipped or not) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        File to read. gzip compression is detected from the content.
    expected_dtype : dtype-like, optional
        If given, the type code in the header must denote this dtype.
    expected_ndim : int, optional
        If given, the header must declare this many dimensions.
    expected_shape : tuple of (int or None), optional
        If given, the declared shape must match; ``None`` entries match
        any size.

    Returns
    -------
    numpy.ndarray
        Array of the declared shape, in native byte order (so uint8 for
        the image and label files of MNIST-like data sets).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not valid IDX: bad magic number, unknown type code,
        unexpected number of dimensions or dimension sizes, data shorter
        (truncated) or longer than the header declares, or a truncated /
        corrupt gzip stream. The message names the file, what was expected
        and what was found.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    n = len(data)
    if n < 4:
        raise ValueError(
            f"{path}: not an IDX file: expected at least a 4-byte header, "
            f"found {n} bytes")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{path}: bad IDX magic number: expected first two bytes 0x00 0x00, "
            f"found 0x{data[0]:02x} 0x{data[1]:02x} "
            f"(magic 0x{int.from_bytes(data[:4], 'big'):08x})")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(
            f"{path}: unknown IDX data type code: expected one of {known}, "
            f"found 0x{code:02x}")
    dtype = IDX_DTYPES[code]
    if expected_dtype is not None:
        want = np.dtype(expected_dtype).newbyteorder("=")
        if dtype.newbyteorder("=") != want:
            raise ValueError(
                f"{path}: wrong IDX data type: expected {want.name} "
                f"(code 0x{_CODE_OF.get(want.str[1:], 0):02x}), found "
                f"{dtype.name} (code 0x{code:02x})")
    if ndim == 0 or ndim > _MAX_NDIM:
        raise ValueError(
            f"{path}: bad IDX number of dimensions: expected 1..{_MAX_NDIM}, "
            f"found {ndim}")
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(
            f"{path}: wrong IDX number of dimensions: expected "
            f"{expected_ndim}, found {ndim}")
    header = 4 + 4 * ndim
    if n < header:
        raise ValueError(
            f"{path}: truncated IDX header: expected {header} bytes for "
            f"{ndim} dimensions, found {n}")
    shape = tuple(int(v) for v in np.frombuffer(data, ">u4", ndim, 4))
    if expected_shape is not None:
        ok = len(expected_shape) == ndim and all(
            e is None or e == s for e, s in zip(expected_shape, shape))
        if not ok:
            want = tuple("*" if e is None else e for e in expected_shape)
            raise ValueError(
                f"{path}: wrong IDX dimensions: expected {want}, found {shape}")
    count = 1
    for s in shape:
        count *= s
    body = count * dtype.itemsize
    if n - header < body:
        raise ValueError(
            f"{path}: truncated IDX data: expected {body} bytes for shape "
            f"{shape} of {dtype.name} ({header + body} in total), found "
            f"{n - header} ({n} in total)")
    if n - header > body:
        raise ValueError(
            f"{path}: IDX file longer than its header declares: expected "
            f"{header + body} bytes for shape {shape} of {dtype.name}, found "
            f"{n} ({n - header - body} trailing bytes)")
    arr = np.frombuffer(data, dtype, count, header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path, array, compress=None):
    """Write ``array`` to ``path`` in IDX format.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    array : array_like
        Data of dtype uint8, int8, int16, int32, float32 or float64, with
        1 to 16 dimensions.
    compress : bool, optional
        gzip the file. Default: when ``path`` ends with ``.gz``.

    Written with :func:`tlearn.io.write_atomic` (atomically; a symbolic
    link is written through; a directory, FIFO or device is refused).
    """
    path = os.fspath(path)
    a = np.asarray(array)
    key = a.dtype.newbyteorder("=").str[1:]
    if key not in _CODE_OF:
        raise ValueError(
            f"write_idx: unsupported dtype: expected one of uint8, int8, "
            f"int16, int32, float32, float64, got {a.dtype}")
    if not 1 <= a.ndim <= _MAX_NDIM:
        raise ValueError(
            f"write_idx: expected 1..{_MAX_NDIM} dimensions, got {a.ndim}")
    code = _CODE_OF[key]
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(a, IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)
    from ..io import write_atomic

    write_atomic(path, payload)  # atomic, through links, regular files only (as every file tlearn writes)
