"""The reports committed under docs/results/ and the README's table of
their verdicts: the table is what the reports give (it cannot go stale),
every committed report carries every claim key its section's code declares
at the report's scale, with the verdicts the code gives on the report's own
results table, its figures and its provenance."""
import json
import os
import pathlib
import shutil

import pytest

import tlearn
from tlearn import replay
from tlearn.replay import Results, verdicts
from tlearn.replay._section import build_claim, claims_of, settings_for

ROOT = pathlib.Path(tlearn.__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
README = ROOT / "README.md"
pytestmark = pytest.mark.skipif(not RESULTS.is_dir() or not README.is_file(),
                                reason="needs the repository's docs/results and README (not an installed copy)")

#: reports committed before reports carried their provenance: a hand-written README.md beside each gives it.
#: A regenerated report carries its own; its section leaves this set (the test fails while it is listed).
BEFORE_PROVENANCE: set = set()  # none since progressive was re-run at paper scale
COMMITTED = sorted(p.name for p in RESULTS.iterdir() if (p / "report.json").is_file()) if RESULTS.is_dir() else []


def _report(section):
    return json.loads((RESULTS / section / "report.json").read_text(encoding="utf-8"))


def test_the_readme_table_is_what_the_committed_reports_give():
    text = README.read_text(encoding="utf-8")
    got = verdicts.readme_block(text)
    assert got is not None, "README.md lacks the verdicts table's markers"
    assert got == verdicts.block(str(RESULTS), "docs/results"), (
        "README.md's verdicts table is stale: run python -m tlearn.replay.verdicts docs/results --readme README.md")
    assert text.count(verdicts.BEGIN) == 1


def test_the_table_lists_every_section_run_or_not():
    table = verdicts.markdown(str(RESULTS), "docs/results")
    rows = [ln for ln in table.splitlines()[2:] if ln.startswith("| ")]
    first = [r.split("|")[1].strip() for r in rows[:len(replay.SECTIONS)]]
    assert first == [f"[{s}](docs/results/{s}/report.md)" if s in COMMITTED else s for s in replay.SECTIONS]
    for s in replay.SECTIONS:
        if s not in COMMITTED:
            assert f"| {s} | {verdicts.NOT_RUN} |" in table
    for s in COMMITTED:
        d = _report(s)
        for c in d["claims"]:   # every claim of every committed report is in the table, with its verdict
            assert verdicts._cell(c["statement"]) in table and verdicts._cell(c["ours"]) in table


def test_committed_folders_are_reports_of_known_sections():
    for p in RESULTS.iterdir():
        assert p.name in replay.SECTIONS, f"docs/results/{p.name} is not a section"
        assert (p / "report.json").is_file() and (p / "report.md").is_file(), f"docs/results/{p.name} lacks a report"


@pytest.mark.parametrize("section", COMMITTED)
def test_committed_report_carries_every_claim_key_the_code_declares(section):
    d = _report(section)
    assert d["section"] == section and d["scale"] == "paper", "docs/results holds the paper-scale reports"
    mod = replay.section(section)
    s = settings_for(mod, d["scale"], len(d["seeds"]))
    declared = [c.key for c in claims_of(mod, s)]
    got = [c["key"] for c in d["claims"]]
    assert got == declared, (f"docs/results/{section} is stale: the code declares {sorted(set(declared) - set(got))} "
                             f"which the report lacks, the report has {sorted(set(got) - set(declared))} which the "
                             f"code no longer declares; run tlearn replay {section} --scale paper --out docs/results")
    # the verdicts the code gives on the report's own long results table are the ones committed
    res = Results.from_report(d)
    for spec, c in zip(claims_of(mod, s), d["claims"]):
        assert build_claim(spec, res, s)["verdict"] == c["verdict"], (section, c["key"])


@pytest.mark.parametrize("section", COMMITTED)
def test_committed_report_has_its_figures_and_provenance(section):
    d = _report(section)
    folder = RESULTS / section
    for f in d["figures"]:
        assert (folder / f).read_bytes()[:4] == b"\x89PNG", f"docs/results/{section}/{f}"
    assert sorted(p.name for p in folder.glob("*.png")) == sorted(d["figures"])
    if section in BEFORE_PROVENANCE:
        assert "provenance" not in d and (folder / "README.md").is_file(), (
            f"docs/results/{section}'s report carries its provenance: take it out of BEFORE_PROVENANCE and remove "
            "its hand-written README.md")
        return
    assert not (folder / "README.md").exists(), "the report carries its provenance: no hand-written README.md"
    p = d["provenance"]
    assert len(p["tlearn"]["commit"]) == 40 and p["tlearn"]["dirty"] is False, \
        "a committed report comes from a committed tree"
    assert p["arguments"]["scale"] == "paper" and p["wall_seconds"] > 0 and len(p["load_average_start"]) == 3
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert f"at commit {p['tlearn']['commit'][:12]}" in md and "- Load average:" in md


def test_the_command_rewrites_and_checks_the_readme(tmp_path):
    for s in COMMITTED[:1]:
        shutil.copytree(RESULTS / s, tmp_path / "results" / s)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{verdicts.BEGIN}\nold\n{verdicts.END}\n\ntail\n", encoding="utf-8")
    args = [str(tmp_path / "results"), "--readme", str(readme)]
    assert verdicts.main(args + ["--check"]) == 1
    assert verdicts.main(args) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\n") and text.endswith(f"{verdicts.END}\n\ntail\n") and "\nold\n" not in text
    assert verdicts.readme_block(text) == verdicts.block(str(tmp_path / "results"), "results")
    assert verdicts.main(args + ["--check"]) == 0
    for s in replay.SECTIONS:
        assert (f"| [{s}](results/{s}/report.md) |" if s in COMMITTED[:1] else f"| {s} | {verdicts.NOT_RUN} |") in text
    readme.write_text("no markers\n", encoding="utf-8")
    assert verdicts.main(args) == 2 and readme.read_text() == "no markers\n"
