"""Faults: interrupted saves, damaged and foreign model files, two threads,
non-finite values.

- a save that fails at any point (write, flush, fsync, rename, an interrupt)
  leaves the previous file byte for byte and no temporary file;
- load rejects every truncation of a small model file, every single-bit flip
  (all of them through the parser, a sample of >= 500 through tl.load) and
  foreign files, each with a ValueError naming the problem;
- a network used from two threads refuses the second caller with TlearnError
  ("another thread") and the refused calls change nothing; two networks
  train in two threads at once exactly as they do one after the other;
- check_finite stops a step that meets NaN or infinity, names the first node,
  and leaves weights, optimizer moments and step count as they were.
"""
import gzip
import io as _io
import os
import struct
import threading
import time
import zlib

import numpy as np
import pytest

import tlearn as tl
from tlearn import io as tio, layers as L

from conftest import small_model, temp_files, toy


# ------------------------------------------------------------ atomic save

class FailingFile:
    """A file that writes the first `limit` bytes, then fails (disk full)."""

    def __init__(self, path, mode, limit, fail_at="write"):
        self.f = open(path, mode)
        self.limit, self.fail_at = limit, fail_at

    def write(self, data):
        self.f.write(data[:self.limit])
        self.f.flush()
        if self.fail_at == "write":
            raise OSError(28, "No space left on device")
        self.f.write(data[self.limit:])
        return len(data)

    def flush(self):
        if self.fail_at == "flush":
            raise OSError(5, "Input/output error")
        self.f.flush()

    def fileno(self):
        return self.f.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.f.close()


@pytest.mark.parametrize("fail_at", ["write", "flush"])
def test_failing_writer_leaves_the_previous_file(tmp_path, fail_at):
    m = small_model()
    path = tmp_path / "m.tlm"
    m.save(path)
    old = path.read_bytes()
    m.fit(*toy(), epochs=1, verbose=False)
    meta, arrays = m._get_state()
    new = tio.dumps(meta, arrays)
    assert new != old
    for limit in (0, 1, 20, len(new) // 2, len(new) - 1):
        with pytest.raises(OSError):
            tio.write_atomic(path, new, opener=lambda p, mode: FailingFile(p, mode, limit, fail_at))
        assert path.read_bytes() == old
        assert temp_files(tmp_path) == []
    tl.load(path)  # still loads
    tio.write_atomic(path, new)  # and a working writer replaces it
    assert path.read_bytes() == new and temp_files(tmp_path) == []


@pytest.mark.parametrize("what", ["fsync", "replace", "interrupt"])
def test_model_save_failing_midway_leaves_the_previous_file(tmp_path, monkeypatch, what):
    m = small_model()
    path = tmp_path / "m.tlm"
    m.save(path)
    old = path.read_bytes()
    m.fit(*toy(), epochs=1, verbose=False)
    exc = KeyboardInterrupt if what == "interrupt" else OSError

    def boom(*a, **k):
        raise exc("simulated failure")

    with monkeypatch.context() as mp:
        mp.setattr(os, "fsync" if what != "replace" else "replace", boom)
        if what == "interrupt":
            mp.setattr(os, "fsync", boom)
        with pytest.raises(exc):
            m.save(path)
    assert path.read_bytes() == old
    assert temp_files(tmp_path) == []
    m.save(path)  # works again
    assert path.read_bytes() != old and temp_files(tmp_path) == []


def test_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    m = small_model()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(OSError):
        m.save(tmp_path / "new.tlm")
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        small_model().save(tmp_path / "no" / "such" / "m.tlm")
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------- damaged files

@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("mf") / "m.tlm"
    m = small_model(n_in=2, hidden=2, n_out=2)
    m.save(p)
    return p, p.read_bytes()


CLEAR = r"not a tlearn model file|checksum mismatch|runs past the end|format version"


def test_every_truncation_is_rejected(tmp_path, model_file):
    _, data = model_file
    p = tmp_path / "t.tlm"
    for n in range(len(data)):
        p.write_bytes(data[:n])
        with pytest.raises(ValueError, match=CLEAR) as e:
            tl.load(p)
        assert str(p) in str(e.value)
    print(f"\n{len(data)} truncations of a {len(data)}-byte model file rejected")
    p.write_bytes(data)
    assert isinstance(tl.load(p), tl.Model)


def test_every_single_bit_flip_is_rejected(tmp_path, model_file):
    _, data = model_file
    n_bits = 8 * len(data)
    for bit in range(n_bits):  # the parser, every bit
        d = bytearray(data)
        d[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ValueError, match=CLEAR):
            tio.loads(bytes(d))
    rng = np.random.default_rng(0)
    sample = rng.choice(n_bits, 600, replace=False)
    p = tmp_path / "f.tlm"
    for bit in sample:  # the whole load path, a sample
        d = bytearray(data)
        d[bit // 8] ^= 1 << (bit % 8)
        p.write_bytes(bytes(d))
        with pytest.raises(ValueError, match=CLEAR):
            tl.load(p)
    print(f"\n{n_bits} single-bit flips rejected by the parser, {len(sample)} of them through tl.load")


def _png():
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"\x00\x00\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _npz():
    buf = _io.BytesIO()
    np.savez(buf, w=np.ones((3, 3), np.float32))
    return buf.getvalue()


def _other_version(data, version):
    body = bytearray(data[:-4])
    body[8:12] = struct.pack("<I", version)
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)) & 0xFFFFFFFF)


@pytest.mark.parametrize("kind", ["png", "npz", "empty", "version2", "version0", "gzip", "text", "header_only",
                                  "idx", "huge_header", "npy"])
def test_foreign_files_are_rejected_with_a_reason(tmp_path, model_file, kind):
    _, data = model_file
    blob, reason = {
        "png": (_png(), r"not a tlearn model file \(magic b'\\x89PNG"),
        "npz": (_npz(), r"not a tlearn model file \(magic b'PK"),
        "empty": (b"", r"0 bytes is shorter than the 24-byte minimum"),
        "version2": (_other_version(data, 2), "format version 2, this tlearn reads version 1"),
        "version0": (_other_version(data, 0), "format version 0, this tlearn reads version 1"),
        "gzip": (gzip.compress(data), "not a tlearn model file"),
        "text": (b'{"meta": {}, "arrays": []}\n' * 3, "not a tlearn model file"),
        "header_only": (data[:20], "shorter than"),
        "idx": (bytes([0, 0, 8, 1, 0, 0, 0, 30]) + bytes(30), "not a tlearn model file"),
        "huge_header": (_recrc(data[:12] + struct.pack("<Q", 2**63) + data[20:]), "runs past the end"),
        "npy": (b"\x93NUMPY" + bytes(120), "not a tlearn model file"),
    }[kind]
    p = tmp_path / "foreign.bin"
    p.write_bytes(blob)
    with pytest.raises(ValueError, match=reason):
        tl.load(p)


def _recrc(data):
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def test_a_checksummed_file_with_bad_settings_is_a_value_error(tmp_path, model_file):
    import json

    _, data = model_file
    hlen = struct.unpack_from("<Q", data, 12)[0]
    header = json.loads(data[20:20 + hlen])
    p = tmp_path / "bad.tlm"
    for edit in (lambda h: h["meta"].pop("layers"), lambda h: h["meta"]["layers"][1]["config"].update(units=-3),
                 lambda h: h["meta"].update(optim_steps="many"), lambda h: h["arrays"][0].update(shape=[-1, -4]),
                 lambda h: h["arrays"][0].pop("name"), lambda h: h.update(arrays={"a": 1}),
                 lambda h: h["meta"].update(outputs=[1, 2])):
        h = json.loads(json.dumps(header))
        edit(h)
        hb = json.dumps(h).encode()
        p.write_bytes(_recrc(data[:12] + struct.pack("<Q", len(hb)) + hb + data[20 + hlen:]))
        with pytest.raises(ValueError, match=str(p)):
            tl.load(p)


def test_nonexistent_file():
    with pytest.raises(FileNotFoundError):
        tl.load("/nonexistent/dir/m.tlm")


# ------------------------------------------------------------- threads

def _big_model(seed=0):
    x = tl.Input((128,), name="x")
    m = tl.Model(x, L.Dense(10, name="o")(L.ReLU()(L.Dense(128, name="h")(x))), seed=seed)
    m.compile(tl.optim.SGD(0.01, momentum=0.9), loss="softmax_ce")
    return m


def _intruders(m, X, Y):
    """Every call that touches the network's state, each with valid arguments."""
    net = m._net
    p0 = net.param_index("h.w")
    return [
        lambda: net.train_step([X[:4]], [Y[:4]], 0.01),
        lambda: net.forward([X[:4]], [1]),
        lambda: net.evaluate([X[:4]], [Y[:4]]),
        lambda: net.forward_backward([X[:4]], [Y[:4]]),
        lambda: net.train_batches([X], [Y], 64, np.full(2, 0.01, np.float32)),
        lambda: net.accumulate_fisher([X[:4]], [Y[:4]], 1.0),
        lambda: net.set_trainable(p0, False),
        lambda: net.set_reg(p0, 0.5),
        lambda: net.reset_param(p0),
        lambda: net.snapshot(),
        lambda: net.set_optim("adam"),
        lambda: net.reset_optim(),
        lambda: net.clear_losses(),
        lambda: net.add_loss("mse", 1, "extra"),
        lambda: net.set_check_finite(True),
        lambda: net.set_attr(0, "lambda", 1.0),
        lambda: setattr(net, "optim_steps", 0),
        lambda: setattr(net, "rng_state", 1),
        lambda: net.set_input_grad(0, True),
        lambda: m.predict(X[:2]),
        lambda: m.train_on_batch(X[:4], Y[:4]),
        lambda: m.evaluate(X[:4], Y[:4]),
        lambda: m.fit(X[:8], Y[:8], epochs=1, batch_size=4, verbose=False),
    ]


def test_one_network_two_threads_second_caller_refused_and_changes_nothing():
    """Thread A runs one long train_batches call (GIL released); the main
    thread calls every state-changing entry point meanwhile: each is refused
    with TlearnError naming another thread, and A's result is exactly that of
    training alone."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 128)).astype(np.float32)
    Y = rng.integers(0, 10, 512).astype(np.int32)
    for attempt in range(5):
        steps = 500 * 2 ** attempt
        index = np.tile(np.arange(512), steps * 64 // 512 + 1)[:steps * 64]
        lrs = np.full(steps, 0.01, np.float32)
        m, twin = _big_model(), _big_model()
        intruders = _intruders(m, X, Y)
        started, errors, messages = threading.Event(), [], []

        def train():
            started.set()
            try:
                m._net.train_batches([X], [Y], 64, lrs, index)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=train)
        t.start()
        started.wait()
        while not m._net.optim_steps and t.is_alive():
            time.sleep(0)  # until the C loop runs (it holds the network busy)
        ran = False
        for call in intruders:
            try:
                call()
                ran = True  # A had finished already: this attempt proves nothing
                break
            except tl.TlearnError as e:
                messages.append(str(e))
        t.join()
        assert not errors, errors
        if not ran:
            break
    else:
        pytest.fail("the long call never outlasted the intruding calls")
    assert len(messages) == len(intruders)
    assert all("in use by another thread" in s for s in messages), messages
    twin._net.train_batches([X], [Y], 64, lrs, index)
    assert m._net.optim_steps == twin._net.optim_steps == steps
    for name, v in m.params.items():
        np.testing.assert_array_equal(v, twin.params[name], err_msg=name)
    assert m._net.n_losses == 1 and m.check_finite is False
    assert m.predict(X[:2]).shape == (2, 10)  # usable again
    print(f"\n{len(messages)} calls refused during a {steps}-step call in another thread")


def test_two_networks_train_in_two_threads_like_one_after_the_other():
    # long enough (some 2,000 steps each, since the loop runs in the core) that one thread cannot finish
    # before the other starts, even when one is descheduled for a while: the overlap is what is tested
    EPOCHS = 20
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((1024, 128)).astype(np.float32), rng.integers(0, 10, 1024).astype(np.int64))
            for _ in range(2)]
    par = [_big_model(seed=s) for s in (1, 2)]
    seq = [_big_model(seed=s) for s in (1, 2)]
    barrier = threading.Barrier(2)
    spans, errors = [None, None], []

    def run(k):
        try:
            barrier.wait()
            t0 = time.perf_counter()
            for _ in range(3):
                par[k].fit(*data[k], epochs=EPOCHS, batch_size=32, verbose=False)
            spans[k] = (t0, time.perf_counter())
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert max(spans[0][0], spans[1][0]) < min(spans[0][1], spans[1][1]), "the two runs did not overlap"
    for k in (0, 1):
        for _ in range(3):
            seq[k].fit(*data[k], epochs=EPOCHS, batch_size=32, verbose=False)
        for name, v in par[k].params.items():
            np.testing.assert_array_equal(v, seq[k].params[name], err_msg=f"model {k}: {name}")
        assert par[k].history == seq[k].history


# --------------------------------------------------------- check_finite

def _arenas(m):
    net = m._net
    return {(a, p): net.view(a, p).copy() for a in ("value", "m", "v", "snapshot", "fisher", "mask")
            for p in range(net.n_params)}


def _assert_unchanged(m, before, steps):
    for (a, p), v in _arenas(m).items():
        np.testing.assert_array_equal(v, before[(a, p)], err_msg=f"{a} {p}")
    assert m._net.optim_steps == steps


@pytest.mark.parametrize("how,node", [
    ("huge_weight_overflow", "d0"),   # finite weights, product overflows to inf
    ("inf_weight", "d0"),             # inf written through model.params
    ("nan_in_second_layer", "d1"),    # the first node is d1: d0 and r stay finite
    ("huge_bias_second_layer", "d1"),
])
def test_check_finite_names_the_first_bad_node_and_changes_nothing(how, node):
    m = small_model(n_in=3, hidden=4, n_out=2)
    X, Y = toy(8)
    m.fit(X, Y, epochs=2, batch_size=4, verbose=False)  # non-zero moments and step count
    steps = m._net.optim_steps
    m.check_finite = True
    p = m.params
    if how == "huge_weight_overflow":
        p["d0.w"][...] = 3e38
        X = X * 0 + 10.0
    elif how == "inf_weight":
        p["d0.w"][1, 2] = np.inf
    elif how == "nan_in_second_layer":
        p["d1.w"][0, 0] = np.nan
        p["d0.b"][...] = 1.0  # r has a positive entry, so the NaN weight is used
    else:
        p["d1.b"][...] = 3e38
        p["d1.w"][...] = 3e38
        p["d0.b"][...] = 10.0
    before = _arenas(m)
    msg = rf"node '{node}' \(dense\) produced NaN or infinity"
    with pytest.raises(tl.TlearnError, match=msg):
        m.train_on_batch(X, Y)
    _assert_unchanged(m, before, steps)
    with pytest.raises(tl.TlearnError, match=msg):
        m.fit(X, Y, epochs=1, batch_size=4, verbose=False)
    _assert_unchanged(m, before, steps)
    with pytest.raises(tl.TlearnError, match=msg):
        m._net.forward_backward([X], [Y.astype(np.int32)])
    _assert_unchanged(m, before, steps)
    # without the check the same step runs and spoils the weights
    m.check_finite = False
    m.train_on_batch(X, Y)
    assert m._net.optim_steps == steps + 1
    assert not all(np.isfinite(v).all() for v in m.params.values())


def test_check_finite_names_a_non_finite_loss():
    x = tl.Input((3,), name="x")
    m = tl.Model(x, L.Dense(2, name="d")(x))
    m.compile(tl.optim.SGD(0.1), loss="mse")
    m.check_finite = True
    before = _arenas(m)
    with pytest.raises(tl.TlearnError, match="loss 'd' is inf"):
        m.train_on_batch(np.ones((2, 3), np.float32), np.full((2, 2), np.inf, np.float32))  # a target
    _assert_unchanged(m, before, 0)


def test_check_finite_survives_save_and_load(tmp_path):
    m = small_model()
    m.check_finite = True
    m.save(tmp_path / "m.tlm")
    m2 = tl.load(tmp_path / "m.tlm")
    assert m2.check_finite
    m2.params["d0.w"][0, 0] = np.nan
    with pytest.raises(tl.TlearnError, match="node 'd0'"):
        m2.train_on_batch(*toy(4))
