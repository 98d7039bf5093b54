"""Files, threads and values: what a hostile (or unlucky) user meets one floor
above the core.

- saving follows the path (tlearn.io.write_atomic, used by every writer):
  a symbolic link is written through, a directory, FIFO or device is refused
  and left alone, a new file gets the umask's permissions and a replaced one
  keeps its mode;
- a model trained by one thread is read (save, pickle, clone, state_dict) and
  written (load_weights) by another at step boundaries only: every file saved
  during training equals a replay of the steps at the step it records;
- values refused: non-finite weights after the float32 cast, a negative
  BatchNorm running variance, ill-shaped or non-integer labels in score,
  freeze requests that are half bad, bad domain-shift settings;
- BatchNorm in a non-trainable layer runs in inference mode during fit.
"""
import os
import pickle
import stat
import threading
import time

import numpy as np
import pytest

import tlearn as tl
from tlearn import io as tio, layers as L
from tlearn.datasets import write_idx

from conftest import small_model, temp_files, toy


# ------------------------------------------------------------- saving


def _savers(tmp_path):
    """Each writer of tlearn, as a function of a path."""
    X, Y = toy()

    def checkpoint(path, weights_only):
        m = small_model()
        cb = tl.callbacks.ModelCheckpoint(str(path), monitor="loss", save_weights_only=weights_only)
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[cb])

    return {
        "Model.save": lambda p: small_model().save(p),
        "ModelCheckpoint": lambda p: checkpoint(p, False),
        "ModelCheckpoint(weights)": lambda p: checkpoint(p, True),
        "write_atomic": lambda p: tio.write_atomic(p, b"tlearn bytes"),
        "write_idx": lambda p: write_idx(str(p), np.arange(6, dtype=np.uint8).reshape(2, 3), compress=False),
        "Model.save_weights": lambda p: small_model().save_weights(p),
    }


WRITERS = ["Model.save", "ModelCheckpoint", "ModelCheckpoint(weights)", "write_atomic", "write_idx",
           "Model.save_weights"]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_symbolic_link_is_written_through(tmp_path, writer):
    save = _savers(tmp_path)[writer]
    target = tmp_path / "real" / "model.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() != b"old" and link.read_bytes() == target.read_bytes()
    assert temp_files(tmp_path) == [] and temp_files(target.parent) == []
    # a relative link, a chain of links and a dangling link (its target is created)
    rel = tmp_path / "rel.bin"
    rel.symlink_to(os.path.join("real", "model.bin"))
    chain = tmp_path / "chain.bin"
    chain.symlink_to(rel)
    target.write_bytes(b"old")
    save(chain)
    assert chain.is_symlink() and rel.is_symlink() and target.read_bytes() != b"old"
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "real" / "new.bin")
    save(dangling)
    assert dangling.is_symlink() and (tmp_path / "real" / "new.bin").stat().st_size > 0


@pytest.mark.parametrize("writer", WRITERS)
def test_a_directory_or_fifo_is_refused_and_left_alone(tmp_path, writer):
    save = _savers(tmp_path)[writer]
    d = tmp_path / "adir"
    d.mkdir()
    (d / "inside").write_bytes(b"x")
    with pytest.raises(IsADirectoryError, match=r"expected a regular file .*found a directory"):
        save(d)
    assert d.is_dir() and (d / "inside").read_bytes() == b"x"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"pipe: expected a regular file .*found a FIFO"):
        save(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    link = tmp_path / "to-pipe"
    link.symlink_to(fifo)
    with pytest.raises(ValueError, match=r"to-pipe \(a link to .*pipe\).*found a FIFO"):
        save(link)
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert temp_files(tmp_path) == []


def test_a_device_is_refused(tmp_path):
    """A device node is refused and stays a device (as root, a save to
    /dev/null used to replace the system's null device).  The node is made in
    a temporary directory (a copy of /dev/null's numbers), so that a broken
    writer harms nothing."""
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (not root)")
    before = os.lstat(dev)
    with pytest.raises(ValueError, match=r"null: expected a regular file .*found a character device"):
        small_model().save(dev)
    with pytest.raises(ValueError, match="character device"):
        tio.write_atomic(dev, b"x")
    after = os.lstat(dev)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino and after.st_rdev == before.st_rdev
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("writer", WRITERS)
def test_permissions_of_new_and_replaced_files(tmp_path, writer, umask):
    save = _savers(tmp_path)[writer]
    old = os.umask(umask)
    try:
        save(tmp_path / "new.bin")
        ref = tmp_path / "ref.bin"
        with open(ref, "wb"):  # what any new file gets
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == stat.S_IMODE(os.stat(ref).st_mode)
    # an existing file keeps its mode, whatever the umask
    for mode in (0o640, 0o604, 0o755):
        p = tmp_path / "existing.bin"
        p.write_bytes(b"old")
        os.chmod(p, mode)
        old = os.umask(umask)
        try:
            save(p)
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(p).st_mode) == mode and p.read_bytes() != b"old"


def test_a_replaced_regular_file_is_replaced_atomically(tmp_path):
    """The replace is still a rename: a reader holding the old file keeps the
    old bytes (a new inode), and the new file loads."""
    p = tmp_path / "m.tlm"
    small_model(seed=0).save(p)
    with open(p, "rb") as f:
        ino = os.fstat(f.fileno()).st_ino
        small_model(seed=1).save(p)
        old = f.read()
    assert os.stat(p).st_ino != ino
    assert tl.load(p).params["d0.w"].tolist() == small_model(seed=1).params["d0.w"].tolist()
    assert old != p.read_bytes() and temp_files(tmp_path) == []


def test_write_atomic_wants_bytes(tmp_path):
    with pytest.raises(TypeError, match="expected bytes, got str"):
        tio.write_atomic(tmp_path / "t", "text")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- threads

ARENAS = ("value", "m", "v")


def _thread_model(seed=3):
    x = tl.Input((96,), name="x")
    h = L.ReLU(name="r")(L.Dense(96, name="h")(x))
    m = tl.Model(x, L.Dense(10, name="o")(L.Dense(64, name="g")(h)), seed=seed)
    m.compile(tl.optim.Adam(0.003), loss="softmax_ce")
    return m


def _thread_data(n=384):
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, 96)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)


def _arena_state(m):
    return {(a, n): m._net.view(a, p).copy() for a in ARENAS for n, p in m._param_index.items()}


class _Recorder(tl.callbacks.Callback):
    """The replay: the state before every step (the core then runs one step per call)."""

    def __init__(self):
        self.states = {}

    def on_train_batch_begin(self, batch, logs=None):
        self.states[self.model._net.optim_steps] = _arena_state(self.model)


class _Pause(tl.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        time.sleep(0.001)


def _replay(epochs, X, Y):
    m = _thread_model()
    rec = _Recorder()
    m.fit(X, Y, epochs=epochs, batch_size=16, verbose=0, callbacks=[rec])
    rec.states[m._net.optim_steps] = _arena_state(m)
    return rec.states


def _same_as_step(states, step, arrays):
    """Which arena of ``arrays`` ((arena, name) -> array) differs from the replay at ``step``."""
    if step not in states:
        return f"step {step} is no step of the replay"
    return [k for k, v in states[step].items() if not np.array_equal(arrays[k], v)]


def test_whole_state_read_during_fit_is_one_step_of_a_replay(tmp_path):
    """Thread A fits (one step per core call); the main thread meanwhile saves,
    pickles, clones and copies the state_dict as fast as it can.  Every file,
    pickle, clone and state_dict is compared with a replay of the same fit:
    weights and Adam moments equal the replay's at the step the file records
    (and the model's step counter agrees), never a mix of two steps."""
    X, Y = _thread_data()
    epochs = 16
    states = _replay(epochs, X, Y)
    m = _thread_model()
    errors, got = [], {"save": [], "pickle": [], "clone": [], "state_dict": []}
    started = threading.Event()

    def train():
        try:
            started.set()
            # a millisecond between steps (the lock is free there): on a fast idle machine the whole fit
            # would otherwise end before the reader gets in more than once
            m.fit(X, Y, epochs=epochs, batch_size=16, verbose=0, steps_per_call=1, callbacks=[_Pause()])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=train)
    t.start()
    started.wait()
    k = 0
    while t.is_alive():
        kind = ("save", "pickle", "clone", "state_dict")[k % 4]
        if kind == "save":
            p = tmp_path / f"during-{k}.tlm"
            m.save(p)
            got["save"].append(p)
        elif kind == "pickle":
            got["pickle"].append(pickle.dumps(m))
        elif kind == "clone":
            got["clone"].append(m.clone())
        else:
            got["state_dict"].append(m.state_dict())
        k += 1
    t.join()
    assert not errors, errors
    final = max(states)
    assert m._net.optim_steps == final
    bad, steps_seen = [], set()
    for p in got["save"]:
        meta, arrays = tio.read(p)
        step = meta["optim_steps"]
        steps_seen.add(step)
        diff = _same_as_step(states, step, {tuple(k.split("/", 1)): v for k, v in arrays.items()})
        if diff or meta["step"] != step:
            bad.append((p.name, step, meta["step"], diff))
    for c in [pickle.loads(b) for b in got["pickle"]] + got["clone"]:
        step = c._net.optim_steps
        steps_seen.add(step)
        diff = _same_as_step(states, step, _arena_state(c))
        if diff or c._step != step:
            bad.append(("model", step, c._step, diff))
    for sd in got["state_dict"]:
        if not any(all(np.array_equal(sd[n], st[("value", n)]) for n in sd) for st in states.values()):
            bad.append(("state_dict", None, None, "weights of no step"))
    n_read = sum(len(v) for v in got.values())
    assert not bad, f"{len(bad)} of {n_read} states read during fit are of no single step: {bad[:3]}"
    inner = [s for s in steps_seen if 0 < s < final]
    assert len(inner) >= 3, f"too few reads during training to test anything: steps {sorted(steps_seen)}"
    print(f"\n{n_read} states read during a {final}-step fit, {len(inner)} distinct inner steps, all consistent")


def _long_call(m, X, Y, steps):
    """fit as one core call of ``steps`` steps."""
    return lambda: m.fit(X, Y, epochs=1, batch_size=1, verbose=0, steps_per_call=steps, shuffle=False)


@pytest.mark.parametrize("what", ["load_weights", "state_dict"])
def test_load_weights_and_state_dict_wait_for_the_step_boundary(what):
    """While A's fit runs one long core call, B's load_weights (or state_dict)
    waits for the call to end: loaded weights are not trained over half-way
    (after fit they are exactly what B loaded), a state_dict is the final one."""
    X, Y = _thread_data(n=4000)
    for attempt in range(4):
        m = _thread_model()
        w0 = m.state_dict()
        errors = []

        def train():
            try:
                _long_call(m, X, Y, len(X))()
            except Exception as e:  # pragma: no cover
                errors.append(e)

        t = threading.Thread(target=train)
        t.start()
        while not m._net.optim_steps and t.is_alive():
            pass  # until the core's loop runs
        mid = m._net.optim_steps
        if what == "load_weights":
            m.load_weights(w0)
            out = None
        else:
            out = m.state_dict()
        t.join()
        assert not errors, errors
        if 0 < mid < len(X):
            break
    else:
        pytest.fail("the long call never outlasted the reader")
    assert m._net.optim_steps == len(X)
    if what == "load_weights":
        for n, v in m.params.items():
            assert np.array_equal(v, w0[n]), n
    else:
        for n, v in m.params.items():
            assert np.array_equal(out[n], v), n


# ------------------------------------------------------------- values refused


def bn_model(seed=0, momentum=0.1):
    x = tl.Input((4,), name="x")
    h = L.BatchNorm(momentum=momentum, name="bn")(L.Dense(6, name="d0")(x))
    m = tl.Model(x, L.Dense(3, name="d1")(L.ReLU(name="r")(h)), seed=seed)
    m.compile(tl.optim.SGD(0.1, momentum=0.9), loss="softmax_ce")
    return m


@pytest.mark.parametrize("value", [1e300, -1e39, 3.5e38, np.float64(np.finfo(np.float32).max) * 2, np.inf, np.nan])
def test_load_weights_refuses_values_that_are_not_finite_in_float32(value):
    m = small_model()
    before = m.state_dict()
    w = {k: v.astype(np.float64) for k, v in before.items()}
    w["d1.w"][1, 0] = value
    with pytest.raises(ValueError, match=r"parameter 'd1.w': values must be finite in float32 .*got .* at flat index 4"):
        m.load_weights(w)
    for k, v in before.items():
        assert np.array_equal(m.params[k], v), k
    w["d1.w"][1, 0] = 3.0e38  # the largest float32 is about 3.4e38: loads
    m.load_weights(w)
    assert np.isfinite(m.params["d1.w"]).all() and m.params["d1.w"][1, 0] == np.float32(3.0e38)


@pytest.mark.parametrize("names", ["tlearn", "torch"])
def test_a_negative_batchnorm_running_variance_is_refused(names, tmp_path):
    m = bn_model()
    before = m.state_dict()
    sd = m.state_dict(format="torch" if names == "torch" else "tlearn")
    key = "bn.running_var"
    sd[key] = sd[key].copy()
    sd[key][2] = -0.5
    with pytest.raises(ValueError, match=r"running variance must be >= 0, got -0.5"):
        m.load_weights(sd)
    for k, v in before.items():
        assert np.array_equal(m.params[k], v), k
    sd[key][2] = 0.0  # zero is a variance (eps keeps the division finite)
    m.load_weights(sd)
    assert np.isfinite(m.predict(np.ones((2, 4), np.float32))).all()


def test_a_model_file_with_a_negative_running_variance_is_refused(tmp_path):
    m = bn_model()
    meta, arrays = m._get_state()
    arrays["value/bn.running_var"][0] = -1.0
    p = tmp_path / "neg.tlm"
    p.write_bytes(tio.dumps(meta, arrays))  # a well-formed, checksummed file
    with pytest.raises(ValueError, match=r"neg.tlm: saved array 'value/bn.running_var': .*must be >= 0, got -1.0"):
        tl.load(p)


def _clf(kind):
    x = tl.Input((3,), name="x")
    m = tl.Model(x, L.Dense(2 if kind == "softmax_ce" else 1, name="d")(x))
    m.compile(tl.optim.SGD(0.1), loss=kind)
    return m


@pytest.mark.parametrize("labels,exc,msg", [
    (np.array([[0], [1], [0], [1], [1]]), ValueError, r"integer class labels of shape \(n,\), got shape \(5, 1\) \(a column of labels"),
    (np.array([[0, 1, 0, 1, 1]]), ValueError, r"got shape \(1, 5\)"),
    (np.array(["0", "1", "0", "1", "1"]), TypeError, "integer class labels of shape .*got dtype <U1"),
    (np.array(["a", "b", "a", "b", "b"]), TypeError, "got dtype <U1"),
    (np.array([0.0, 1.0, 0.0, 1.0, 1.0]), TypeError, "got dtype float64"),
    (np.array([True, False, True, True, False]), TypeError, "got dtype bool"),
])
def test_score_refuses_what_is_not_class_labels(labels, exc, msg):
    m = _clf("softmax_ce")
    X = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    with pytest.raises(exc, match=r"score: labels of loss 'd' \(softmax_ce\): expected .*" + msg):
        m.score(X, labels)
    assert 0.0 <= m.score(X, [0, 1, 0, 1, 1]) <= 1.0
    assert 0.0 <= m.score(X, np.array([0, 1, -1, 1, 1], np.int8)) <= 1.0


@pytest.mark.parametrize("labels,exc,msg", [
    (np.array([0.0, 1.0, 0.5, 1.0, 1.0]), ValueError, r"targets of 0 and 1 \(NaN: no label\), got 0.5"),
    (np.array([0, 3, 0, 3, 3]), ValueError, "got 3.0"),
    (np.array(["0", "1", "0", "1", "1"]), TypeError, "got dtype <U1"),
])
def test_score_of_a_sigmoid_model_wants_0_and_1(labels, exc, msg):
    m = _clf("sigmoid_bce")
    X = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    with pytest.raises(exc, match=r"score: labels of loss 'd' \(sigmoid_bce\): expected .*" + msg):
        m.score(X, labels)
    assert 0.0 <= m.score(X, np.array([0, 1, np.nan, 1, 1])) <= 1.0


def _freeze_state(m):
    return {n: (m.layer(n).trainable, {k: v.copy() for k, v in m.masks.items()}) for n in m.layers}


@pytest.mark.parametrize("layers,masks,exc", [
    (["d0", "nope"], None, KeyError),
    (["d0"], {"d1.w": np.zeros((4, 2))}, ValueError),                       # wrong shape
    (["d0"], {"d1.w": np.full((2, 4), 0.5)}, ValueError),                   # not 0/1
    (["d0"], {"d1.w": np.zeros((2, 4)), "d9.w": np.zeros(1)}, KeyError),    # second mask unknown
    (["d0"], {"d1.b": np.zeros(2), "d1.w": np.full((2, 4), np.nan)}, ValueError),
    (["d0"], {"d1.w": np.full((2, 4), "0")}, TypeError),
    (["d0", 3], None, KeyError),
    (["d0"], [("d1.w", np.zeros((2, 4)))], TypeError),
])
def test_freeze_is_all_or_nothing(layers, masks, exc):
    from tlearn.transfer.layers import freeze

    m = small_model(n_in=4)
    m.fit(*toy(n_in=4), epochs=1, verbose=0)
    before = _freeze_state(m)
    with pytest.raises(exc):
        freeze(m, layers, masks)
    after = _freeze_state(m)
    for n in m.layers:
        assert after[n][0] == before[n][0], n
        for k, v in before[n][1].items():
            assert np.array_equal(after[n][1][k], v), k
    freeze(m, "d0", {"d1.b": np.array([1, 0])})  # a good request applies whole (a str is one layer)
    assert not m.layer("d0").trainable and m.layer("d1").trainable and m.masks["d1.b"].tolist() == [1, 0]


@pytest.mark.parametrize("call,exc,msg", [
    (lambda ds, u, f: ds.invert(u, max_value=1000), ValueError, r"invert: max_value must be a number in \(0, 255\] "
                                                                r"for uint8 images, got 1000.0"),
    (lambda ds, u, f: ds.invert(u, max_value=0), ValueError, "invert: max_value must be .*got 0.0"),
    (lambda ds, u, f: ds.invert(u, max_value=16), ValueError, r"invert: images must hold values in "
                                                              r"\[0, max_value=16\], got values in \[0, 200\]"),
    (lambda ds, u, f: ds.invert(f * 255), ValueError, r"invert: images must hold values in \[0, max_value=1\]"),
    (lambda ds, u, f: ds.invert(f, max_value=float("inf")), ValueError, "max_value must be a positive finite number"),
    (lambda ds, u, f: ds.invert(f, max_value=1e300), ValueError, r"at most 3.4e\+38 for float32\), got 1e\+300"),
    (lambda ds, u, f: ds.rotate(f, float("nan")), ValueError, "rotate: degrees must be a finite number of degrees, "
                                                              "got nan"),
    (lambda ds, u, f: ds.rotate(f, float("-inf")), ValueError, "degrees must be a finite number"),
    (lambda ds, u, f: ds.rotate(f, "30"), TypeError, r"degrees must be a finite number of degrees, got '30' \(str\)"),
    (lambda ds, u, f: ds.rotate(f, True), TypeError, r"got True \(bool\)"),
    (lambda ds, u, f: ds.rotate(u, 10, fill=300), ValueError, r"rotate: fill must be a number in \[0, 255\] for "
                                                              r"uint8 images, got 300.0"),
    (lambda ds, u, f: ds.rotate(f, 10, fill=float("nan")), ValueError, "fill must be a finite number .*got nan"),
    (lambda ds, u, f: ds.rotate(f, 10, fill=1e300), ValueError, r"fill must be a finite number with \|fill\| <= "
                                                                r"8.51e\+37, got 1e\+300"),
    (lambda ds, u, f: ds.add_noise(f, 0.1, max_value=-1), ValueError, r"add_noise: max_value must be a positive "
                                                                       r"finite number \(at most 3.4e\+38 for float32\), "
                                                                       r"got -1.0"),
    (lambda ds, u, f: ds.add_noise(u, 0.1, max_value=256), ValueError, r"max_value must be a number in \(0, 255\]"),
    (lambda ds, u, f: ds.add_noise(f, float("nan")), ValueError, "add_noise: std must be a number >= 0, got nan"),
    (lambda ds, u, f: ds.add_noise(u, 1e307), ValueError, "std must be .*finite, got std=1e[+]307"),
    (lambda ds, u, f: ds.add_noise(f, [0.1]), TypeError, r"std must be a number >= 0, got \[0.1\] \(list\)"),
    (lambda ds, u, f: ds.scale(f, 1e-300), ValueError, r"scale: factor must be a positive number in "
                                                       r"\[1e-06, 1e\+06\], got 1e-300"),
    (lambda ds, u, f: ds.scale(f, 1e300), ValueError, "factor must be a positive number in"),
    (lambda ds, u, f: ds.scale(u, 2, fill=-1), ValueError, "scale: fill must be a number in"),
    (lambda ds, u, f: ds.mnist_m(np.zeros((2, 8, 8), np.float32), chunk=0), ValueError,
     "mnist_m: chunk must be a positive int, got 0"),
    (lambda ds, u, f: ds.mnist_m(np.zeros((2, 8, 8), np.float32), chunk=2.5), ValueError,
     "chunk must be a positive int, got 2.5"),
])
def test_domain_shifts_refuse_bad_settings(call, exc, msg):
    from tlearn import datasets as ds

    u = np.array([[0, 10, 200], [5, 6, 7]], np.uint8)
    f = np.array([[0.2, 0.5, 1.0], [0.0, 0.1, 0.3]], np.float32)
    u0, f0 = u.copy(), f.copy()
    with pytest.raises(exc, match=msg):
        call(ds, u, f)
    assert np.array_equal(u, u0) and np.array_equal(f, f0)


def test_domain_shifts_good_settings_still_work():
    from tlearn import datasets as ds

    u = np.array([[0, 10, 16]], np.uint8)
    assert ds.invert(u, max_value=16).tolist() == [[16, 6, 0]]
    img = np.zeros((1, 5, 5), np.float32)
    img[0, 2, 4] = 1
    # a huge angle is its exact remainder modulo 360 (fmod), not the cosine of a rounded radian value
    np.testing.assert_array_equal(ds.rotate(img, 90 + 360 * 10**12), ds.rotate(img, 90))
    np.testing.assert_array_equal(ds.rotate(img, np.float32(90)), np.rot90(img, 1, axes=(-2, -1)))
    assert ds.scale(img, 1e-6).sum() == 0 and ds.scale(img, np.float64(1)).sum() == 1


# ------------------------------------------------------------- frozen BatchNorm


def conv_bn_model(seed=0):
    x = tl.Input((2, 6, 6), name="x")
    h = L.BatchNorm(name="bn1")(L.Conv2d(4, 3, padding=1, name="c1")(x))
    h = L.Flatten(name="f")(L.ReLU(name="r1")(h))
    h = L.BatchNorm(name="bn2")(L.Dense(8, name="d0")(h))
    m = tl.Model(x, L.Dense(3, name="d1")(L.ReLU(name="r2")(h)), seed=seed)
    m.compile(tl.optim.Adam(0.01), loss="softmax_ce")
    return m


def bn_data(n=48, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2, 6, 6)) * 2 + 1 + shift).astype(np.float32), rng.integers(0, 3, n)


def _trained(seed=0):
    m = conv_bn_model(seed)
    m.fit(*bn_data(), epochs=2, batch_size=8, verbose=0)  # running statistics away from 0 and 1
    return m


@pytest.mark.parametrize("how", ["model", "layers"])
def test_a_frozen_model_predicts_the_same_after_fit(how):
    """Keras's rule: BatchNorm in a non-trainable layer runs in inference mode
    during fit, so a frozen model's running statistics and predictions do not
    move (they did: the statistics followed the new data)."""
    m = _trained()
    if how == "model":
        m.trainable = False
    else:
        for n in m.layers:
            m.layer(n).trainable = False
    X2, Y2 = bn_data(shift=3.0, seed=1)  # another domain: batch statistics far from the running ones
    pred, state = m.predict(X2), m.state_dict()
    m.fit(X2, Y2, epochs=2, batch_size=8, verbose=0)
    for k, v in state.items():
        assert np.array_equal(m.params[k], v), k
    assert np.array_equal(m.predict(X2), pred)


def test_a_frozen_batchnorm_layer_normalises_with_its_running_statistics():
    """Only bn2 frozen: its statistics stay while the layers around it train;
    the training loss of a step is the evaluation loss of the same weights
    (bn1 is frozen too here, and nothing else differs between the modes)."""
    m = _trained()
    for n in ("bn1", "bn2"):
        m.layer(n).trainable = False
    X2, Y2 = bn_data(shift=3.0, seed=1)
    stats = {k: v.copy() for k, v in m.params.items() if "running" in k}
    w = m.params["d0.w"].copy()
    for _ in range(3):
        want = m.evaluate(X2[:8], Y2[:8])["d1"]
        got = m.train_on_batch(X2[:8], Y2[:8])["d1"]
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    for k, v in stats.items():
        assert np.array_equal(m.params[k], v), k
    assert not np.array_equal(m.params["d0.w"], w)  # the rest trains


def test_a_trainable_batchnorm_still_uses_the_batch_and_adabn_still_reestimates_a_frozen_model():
    m = _trained()
    X2, Y2 = bn_data(shift=3.0, seed=1)
    stats = m.params["bn1.running_mean"].copy()
    m.fit(X2, Y2, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(m.params["bn1.running_mean"], stats)  # a trainable layer follows the batches
    m.trainable = False
    m.reestimate_batchnorm(X2)  # an explicit re-estimation is not a training step: the target's statistics
    conv = m.predict(X2, outputs=["c1"])["c1"]
    np.testing.assert_allclose(m.params["bn1.running_mean"], conv.mean((0, 2, 3)), rtol=1e-4, atol=1e-4)


def test_state_lock_is_reentrant_and_an_interrupted_wait_gives_its_turn_up():
    """The model's lock: re-entrant in one thread; a wait ended by an exception
    (here a signal handler raising, as Ctrl-C does) gives its turn up, so the
    lock does not stay taken by a ticket nobody will use."""
    import signal

    from tlearn.state import StateLock

    lock = StateLock()
    with lock:
        with lock:  # re-entrant
            pass
    held, release = threading.Event(), threading.Event()

    def holder():
        with lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)

    class Stop(Exception):
        pass

    def on_alarm(*a):
        raise Stop()

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Stop):
            with lock:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    release.set()
    t.join(10)
    got = []
    t2 = threading.Thread(target=lambda: lock.__enter__() and got.append(1) or lock.__exit__(None, None, None))
    t2.start()
    t2.join(5)
    assert got == [1] and not t2.is_alive(), "the lock stayed taken by the interrupted wait's turn"


def test_training_calls_from_another_thread_are_refused_for_the_whole_fit():
    """While A is in fit, B's fit, train_on_batch, predict, evaluate, compile
    and reestimate_batchnorm are refused with the core's "in use" message --
    between A's core calls too, so B never trains the model in between -- and
    A's result is that of training alone; B's save waits instead."""
    X, Y = _thread_data()
    calls = {
        "fit": lambda m: m.fit(X[:32], Y[:32], epochs=1, verbose=0),
        "train_on_batch": lambda m: m.train_on_batch(X[:8], Y[:8]),
        "predict": lambda m: m.predict(X[:4]),
        "evaluate": lambda m: m.evaluate(X[:8], Y[:8]),
        "compile": lambda m: m.compile(tl.optim.SGD(0.1), loss="softmax_ce"),
        "reestimate_batchnorm": lambda m: m.reestimate_batchnorm(X[:8]),
    }
    for attempt in range(4):
        epochs = 20 * 2 ** attempt
        m = _thread_model()
        refused, errors = {}, []
        started = threading.Event()

        def train():
            try:
                started.set()
                m.fit(X, Y, epochs=epochs, batch_size=16, verbose=0, steps_per_call=1)
            except Exception as e:  # pragma: no cover
                errors.append(e)

        t = threading.Thread(target=train)
        t.start()
        started.wait()
        while m._trainer is None and t.is_alive():
            pass
        for _ in range(3):  # several rounds: most calls land between two of A's core calls
            for name, call in calls.items():
                try:
                    call(m)
                except tl.TlearnError as e:
                    refused.setdefault(name, []).append(str(e))
        t.join()
        assert not errors, errors
        if len(refused) == len(calls) and all(len(v) == 3 for v in refused.values()):
            break  # every call came while A was in fit (else A finished first: a longer fit)
    else:
        pytest.fail(f"refused: { {k: len(v) for k, v in refused.items()} } of 3 each")
    assert m._net.optim_steps == epochs * 24, "another thread trained the model during fit"
    assert all("in use by another thread" in s for v in refused.values() for s in v)
    solo = _thread_model()
    solo.fit(X, Y, epochs=epochs, batch_size=16, verbose=0, steps_per_call=1)
    for n, v in solo.params.items():
        assert np.array_equal(m.params[n], v), n
