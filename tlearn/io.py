"""The model file: one self-checking binary file, written atomically.

Layout (little endian)::

    b"TLEARN\\x00M"  magic (8 bytes)
    uint32          format version
    uint64          header length H
    H bytes         JSON header: architecture, compile settings, array table
    payload         the arrays' bytes, in the order of the array table
    uint32          CRC-32 of everything above

A truncated, bit-flipped or foreign file is rejected with a ValueError before
anything is built from it.  Writing goes to a temporary file in the same
directory, flushed and fsynced, then renamed over the target: a failure at
any point leaves the previous file intact.
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zlib
from typing import Dict, Tuple

import numpy as np

MAGIC = b"TLEARN\x00M"
VERSION = 1
_HEAD = struct.Struct("<8sIQ")
_DTYPES = {"float32": np.float32, "int64": np.int64, "uint8": np.uint8}


def dumps(meta: dict, arrays: Dict[str, np.ndarray]) -> bytes:
    table, chunks, off = [], [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"array {name!r}: dtype {a.dtype} cannot be saved")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        table.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape), "offset": off, "nbytes": len(b)})
        chunks.append(b)
        off += len(b)
    header = json.dumps({"meta": meta, "arrays": table}, sort_keys=True).encode()
    body = _HEAD.pack(MAGIC, VERSION, len(header)) + header + b"".join(chunks)
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def loads(data: bytes, source: str = "<bytes>") -> Tuple[dict, Dict[str, np.ndarray]]:
    if len(data) < _HEAD.size + 4:
        raise ValueError(f"{source}: not a tlearn model file ({len(data)} bytes is shorter than the "
                         f"{_HEAD.size + 4}-byte minimum)")
    magic, version, hlen = _HEAD.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError(f"{source}: not a tlearn model file (magic {magic!r}, expected {MAGIC!r})")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != crc:
        raise ValueError(f"{source}: checksum mismatch: the file is truncated or corrupt")
    if version != VERSION:
        raise ValueError(f"{source}: model file format version {version}, this tlearn reads version {VERSION}")
    start = _HEAD.size + hlen
    if start > len(data) - 4:
        raise ValueError(f"{source}: header of {hlen} bytes runs past the end of the file")
    try:
        header = json.loads(data[_HEAD.size:start].decode())
        table, meta = header["arrays"], header["meta"]
        if not isinstance(table, list) or not isinstance(meta, dict):
            raise TypeError("expected a list of arrays and a dict of settings")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{source}: unreadable header ({str(e)[:200]})") from None
    payload = memoryview(data)[start:len(data) - 4]
    arrays = {}
    for ent in table:
        try:
            dt = np.dtype(_DTYPES[ent["dtype"]]).newbyteorder("<")
            shape = tuple(int(s) for s in ent["shape"])
            off, nb, name = int(ent["offset"]), int(ent["nbytes"]), ent["name"]
            if not isinstance(name, str) or min(shape, default=0) < 0:
                raise ValueError("a name must be a string and sizes must be >= 0")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{source}: bad array entry {str(ent)[:200]} ({e})") from None
        if off < 0 or nb < 0 or off + nb > len(payload) or math.prod(shape) * dt.itemsize != nb:
            raise ValueError(f"{source}: array {name!r} does not fit the payload")
        arrays[name] = np.frombuffer(payload[off:off + nb], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
    return meta, arrays


def write_atomic(path, data: bytes, opener=open) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tlearn-", suffix=".tmp", dir=d)
    os.close(fd)
    try:
        with opener(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read(path) -> Tuple[dict, Dict[str, np.ndarray]]:
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    return loads(data, source=path)
