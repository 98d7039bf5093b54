"""Every replay report says where its numbers came from: tlearn's version,
the git commit and whether the tree had uncommitted changes (or that it is
not a git checkout), UTC start and end, the machine, the load average at
start and end, wall and CPU time (this process and its workers), the
command and the run's arguments."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import tlearn
import toy_section as toy
from tlearn.replay import _provenance
from tlearn.replay._section import run_section

ROOT = pathlib.Path(tlearn.__file__).resolve().parent.parent
HAVE_GIT = shutil.which("git") is not None
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("workers", [1, 2])
def test_report_json_and_md_carry_the_provenance(tmp_path, workers):
    rep = run_section(toy, scale="full", workers=workers, progress=False)
    rep.write(str(tmp_path / "toy"))
    d = json.loads((tmp_path / "toy" / "report.json").read_text())
    p = d["provenance"]
    assert p["tlearn"]["version"] == tlearn.__version__
    assert p["arguments"] == {"section": "toy_section", "scale": "full", "seeds": 3, "data": None, "workers": workers}
    assert UTC.match(p["start_utc"]) and UTC.match(p["end_utc"]) and p["start_utc"] <= p["end_utc"]
    m = p["machine"]
    assert m["cores"] == os.cpu_count() and m["cpu"] and m["python"] == ".".join(map(str, sys.version_info[:3]))
    if os.path.exists("/proc/meminfo"):
        kib = int(re.search(r"MemTotal:\s+(\d+)", pathlib.Path("/proc/meminfo").read_text()).group(1))
        assert abs(m["ram_gib"] - kib / 2 ** 20) < 0.1 * kib / 2 ** 20 + 0.1
    for k in ("load_average_start", "load_average_end"):
        assert len(p[k]) == 3 and all(x >= 0 for x in p[k])
    assert 0 < p["wall_seconds"] <= d["seconds"] + 1e-6   # the provenance starts after the report's clock
    cpu = p["cpu_seconds"]
    assert cpu["self"] > 0 and cpu["workers"] >= 0 and cpu["total"] == pytest.approx(cpu["self"] + cpu["workers"],
                                                                                       abs=0.02)
    if workers == 2:   # the training ran in the two worker processes: their CPU time is counted
        assert cpu["workers"] > 0
    assert p["command"]
    md = (tmp_path / "toy" / "report.md").read_text().splitlines()
    head = "\n".join(md[:12])
    assert f"- Code: tlearn {tlearn.__version__}" in head
    assert f"- Run: {p['start_utc']} to {p['end_utc']}; wall time {p['wall_seconds']:.1f} s" in head
    assert f"{m['cores']} cores" in head and f"{p['load_average_start'][0]:.2f} (1 min)" in head
    assert f"(section toy_section, scale full, seeds 3, workers {workers})" in head
    assert md.index("## Claims") > 4


@pytest.mark.skipif(not HAVE_GIT, reason="needs git")
def test_commit_is_the_checkouts_when_run_from_one():
    info = _provenance.code_info()
    try:
        top = _git(ROOT, "rev-parse", "--show-toplevel")
    except subprocess.CalledProcessError:
        top = None
    if top is None or pathlib.Path(top).resolve() != ROOT:
        assert info["commit"] == _provenance.NOT_A_CHECKOUT and info["dirty"] is None
        return
    assert info["commit"] == _git(ROOT, "rev-parse", "HEAD")
    dirty = bool(_git(ROOT, "status", "--porcelain", "--untracked-files=no")
                 or _git(ROOT, "ls-files", "--others", "--exclude-standard", "--", "tlearn"))
    assert info["dirty"] is dirty


def test_outside_a_checkout_it_says_so(tmp_path):
    pkg = tmp_path / "tlearn"
    pkg.mkdir()
    info = _provenance.code_info(str(pkg))
    assert info["commit"] == _provenance.NOT_A_CHECKOUT and info["dirty"] is None and info["changed"] is None
    assert info["version"] == tlearn.__version__
    line = _provenance.provenance_lines({"tlearn": info, "arguments": {}})[0]
    assert line == f"- Code: tlearn {tlearn.__version__}, not a git checkout ({tmp_path})."


@pytest.mark.skipif(not HAVE_GIT, reason="needs git")
def test_uncommitted_changes_are_named(tmp_path):
    pkg = tmp_path / "tlearn"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "tlearn/a.py")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    clean = _provenance.code_info(str(pkg))
    assert clean["commit"] == head and clean["dirty"] is False and clean["changed"] == []
    assert "no uncommitted changes" in _provenance.provenance_lines({"tlearn": clean, "arguments": {}})[0]
    (pkg / "a.py").write_text("x = 2\n")
    (pkg / "b.py").write_text("y = 1\n")
    dirty = _provenance.code_info(str(pkg))
    assert dirty["commit"] == head and dirty["dirty"] is True
    assert dirty["changed"] == ["tlearn/a.py", "tlearn/b.py (untracked)"]
    line = _provenance.provenance_lines({"tlearn": dirty, "arguments": {}})[0]
    assert f"at commit {head[:12]}" in line and "with uncommitted changes to tlearn/a.py, tlearn/b.py (untracked)" in line


def test_a_package_inside_another_repository_is_not_its_checkout(tmp_path):
    if not HAVE_GIT:
        pytest.skip("needs git")
    _git(tmp_path, "init", "-q")
    pkg = tmp_path / "site-packages" / "tlearn"
    pkg.mkdir(parents=True)
    assert _provenance.code_info(str(pkg))["commit"] == _provenance.NOT_A_CHECKOUT
