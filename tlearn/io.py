"""The model file: one self-checking binary file, written atomically.

Layout (little endian)::

    b"TLEARN\\x00M"  magic (8 bytes)
    uint32          format version
    uint64          header length H
    H bytes         JSON header: architecture, compile settings, array table
    payload         the arrays' bytes, in the order of the array table
    uint32          CRC-32 of everything above

A truncated, bit-flipped or foreign file is rejected with a ValueError before
anything is built from it.  Writing (:func:`write_atomic`, for every file
tlearn writes) goes to a temporary file in the target's directory, flushed
and fsynced, then renamed over the target: a failure at any point leaves the
previous file intact.  A symbolic link is written through, a path that is
not a regular file is refused, and permissions are those of a new file
(umask) or of the file replaced.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import stat
import struct
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


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def write_atomic(path, data: bytes, opener=open) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix.

    Every file tlearn writes goes through here (``Model.save``,
    ``ModelCheckpoint``, weights, reports).  The write follows the path as
    ``open(path, "wb")`` would, but atomically:

    - a symbolic link is followed and its target written (the link stays a
      link);
    - a path that exists and is not a regular file (a directory, a FIFO, a
      device, a socket) is refused with an error naming what it is; nothing
      is written;
    - a regular file is replaced atomically: the bytes go to a temporary file
      in the target's directory, flushed and fsynced, then renamed over the
      target; a failure at any point leaves the previous file intact and no
      temporary file;
    - a new file gets the permissions any new file gets (``0o666`` less the
      umask); a replaced file keeps its mode (and, where allowed, its owner
      and group).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"write_atomic: expected bytes, got {type(data).__name__}")
    path = os.fspath(path)
    target = os.path.realpath(path)  # the file a plain open(path, "wb") would write
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
        shown = path if target == os.path.abspath(path) else f"{path} (a link to {target})"
        err = IsADirectoryError if stat.S_ISDIR(st.st_mode) else ValueError
        raise err(f"cannot save to {shown}: expected a regular file (or a new name), found {kind}; "
                  "tlearn replaces only regular files")
    d = os.path.dirname(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(d, f".tlearn-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask, as for any new file
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"cannot create a temporary file in {d}")
    os.close(fd)
    try:
        if st is not None:  # keep the replaced file's mode, owner and group
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != _owner(tmp):
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)
                except OSError:
                    pass  # not allowed (not root): the file becomes the writer's, as a copy would
        with opener(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _owner(p: str):
    s = os.stat(p)
    return s.st_uid, s.st_gid


def read(path) -> Tuple[dict, Dict[str, np.ndarray]]:
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    return loads(data, source=path)
