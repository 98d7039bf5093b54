"""The replay command line, run as a user runs it (a subprocess): every
argument checked before any training with a one-line error and exit status
2, the data named in the first line and the report, SIGTERM and SIGINT
stopping the workers."""
import json
import re
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import tlearn

ROOT = str(pathlib.Path(tlearn.__file__).resolve().parent.parent)


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    env.pop("TLEARN_QUICK", None)
    env.pop("TLEARN_REPLAY_WORKERS", None)
    env.update(extra)
    return env


def _cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "tlearn", "replay", *args], capture_output=True, text=True,
                          env=_env(**env), cwd=ROOT, timeout=300)


def _refused(r, words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tlearn: error: ") and words in err[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""   # nothing trained, nothing printed


@pytest.mark.parametrize("args, words", [
    (["nope"], "unknown section 'nope'"),
    (["finetune", "--seeds", "0"], "--seeds must be an integer from 1 to 100, got 0"),
    (["finetune", "--seeds", "101"], "got 101"),
    (["finetune", "--seeds", "many"], "got 'many'"),
    (["finetune", "--scale", "huge"], "--scale must be one of ['quick', 'full', 'paper'], got 'huge'"),
    (["finetune", "--quick", "--scale", "full"], "--quick and --scale full disagree"),
    (["finetune", "--data", "mnist"], "--data must be one of ['subset', 'full']"),
    (["finetune", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_are_refused_in_one_line(args, words, tmp_path):
    _refused(_cli(*args, "--out", str(tmp_path / "out")), words)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_output_folder_is_refused_before_training(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    _refused(_cli("finetune", "--quick", "--out", str(f)), "exists and is not a directory")
    _refused(_cli("finetune", "--quick", "--out", str(f / "sub")), "cannot be created or written")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "layers").write_text("x")
    _refused(_cli("layers", "--quick", "--out", str(tmp_path / "out")), "is not a directory (the layers report")


@pytest.mark.parametrize("workers", ["abc", "0", "-2", "1.5"])
def test_bad_worker_count_is_refused(workers, tmp_path):
    _refused(_cli("finetune", "--quick", "--out", str(tmp_path), TLEARN_REPLAY_WORKERS=workers),
             f"TLEARN_REPLAY_WORKERS must be a positive integer, got {workers!r}")


def test_the_data_is_named_first_and_in_the_report(tmp_path):
    r = _cli("layers", "--quick", "--data", "subset", "--seeds", "1", "--out", str(tmp_path), TLEARN_REPLAY_WORKERS="1")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    m = re.match(r"\[layers\] data: Fashion-MNIST subset shipped in tlearn, (\d+) training and (\d+) test "
                 r"images used; scale quick; 1 seed\(s\)", first)
    assert m, first
    d = json.loads((tmp_path / "layers" / "report.json").read_text())
    assert d["data"]["name"] == "fashion_subset" and d["scale"] == "quick"
    assert d["data"]["train"] == int(m.group(1)) and d["data"]["test"] == int(m.group(2))
    assert d["results"] and {c["verdict"] for c in d["claims"]} == {"not determined"}
    md = (tmp_path / "layers" / "report.md").read_text().splitlines()
    assert md[2].startswith(f"Data: Fashion-MNIST subset shipped in tlearn, {m.group(1)} training and {m.group(2)} test images used.")
    p = d["provenance"]   # the command as run and the arguments it came to
    assert p["command"] == "python -m tlearn replay layers --quick --data subset --seeds 1 --out " + str(tmp_path)
    assert p["arguments"] == {"section": "layers", "scale": "quick", "seeds": 1, "data": "subset", "workers": 1}
    assert f"- Command: `{p['command']}` (section layers, scale quick, seeds 1, data subset, workers 1)." in md


def _children(pid):
    out = set()
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


def _alive(pid):
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_workers(sig, status, tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "tlearn", "replay", "dann", "--quick", "--out", str(tmp_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         env=_env(TLEARN_REPLAY_WORKERS="2", TMPDIR=str(tmp_path)))
    try:
        first = p.stdout.readline()   # the data line: the workers start right after it
        assert first.startswith("[dann] data:"), first
        deadline = time.time() + 60
        kids = set()
        while len(kids) < 2 and time.time() < deadline:
            kids = _children(p.pid)
            time.sleep(0.1)
        assert len(kids) >= 2, kids
        time.sleep(1.0)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == status, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("tlearn: "), err
    assert not [k for k in kids if _alive(k)]
    assert sorted(x.name for x in tmp_path.iterdir()) == []   # no temporary data, no half report
