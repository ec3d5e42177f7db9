"""The README cannot drift from the code: its commands are read from the README itself and
run literally on the committed sample, and the files it lists for each command are checked
against the files the command writes, both ways. Also: CI runs the README's set-up and
test commands, environment.yml agrees with the README, and a missing browser is loud."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FILES_HEADING = "## What each command writes"


# --------------------------------------------------------------------------- README parsing


def block_after(marker: str, text: str = README) -> str:
    """The first fenced code block after the first line containing ``marker``."""
    at = text.find(marker)
    assert at >= 0, f"README has no {marker!r}"
    m = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S).search(text, at)
    assert m, f"README has no code block after {marker!r}"
    return m.group(1)


def commands_in(block: str) -> list[str]:
    """The commands of a bash block: lines joined at trailing backslashes, comments and
    blank lines dropped."""
    joined = re.sub(r"\s*\\\n\s*", " ", block)
    lines = (line.split(" #", 1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def section(heading: str, text: str = README) -> str:
    start = text.index(heading)
    nxt = text.find("\n## ", start + len(heading))
    return text[start : nxt if nxt >= 0 else len(text)]


def files_table() -> list[dict[str, str]]:
    """Rows of the table under "What each command writes": command, file, kind, written."""
    rows = []
    for line in section(FILES_HEADING).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 5 or set(cells[0]) <= {"-", " "}:
            continue
        if cells[0] == "command":
            continue
        command = cells[0].strip("`")
        names = re.findall(r"`([^`]+)`", cells[1])
        assert names, f"no file name in README row: {line}"
        for name in names:
            rows.append({"command": command, "file": name, "kind": cells[2], "written": cells[3]})
    return rows


def listed(command: str) -> set[str]:
    """The files the README lists for ``command`` on a native registry (the sample)."""
    return {
        r["file"]
        for r in files_table()
        if r["command"] == command and not r["written"].startswith("on an OMOP")
    }


def run_readme_command(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one README command literally with bash, in ``cwd`` (where ``data_samples`` is
    the repository's), with this interpreter's scripts first on PATH."""
    (cwd / "data_samples").symlink_to(ROOT / "data_samples", target_is_directory=True)
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def out_dir(command: str) -> str:
    args = shlex.split(command)
    assert "--out" in args, command
    return args[args.index("--out") + 1]


def written_files(out: Path) -> set[str]:
    """The outputs in ``out``; the output folder's own bookkeeping (the lock and the list of
    files the last run wrote, both named with a leading dot) is described in prose."""
    assert out.is_dir(), f"{out} was not created"
    return {p.name for p in out.iterdir() if not p.name.startswith(".")}


def check_both_ways(command: str, out: Path) -> None:
    want, got = listed(command), written_files(out)
    assert want, f"README lists no files for `feasibility {command}`"
    missing = sorted(want - got)
    unlisted = sorted(got - want)
    assert not missing, f"README lists {missing} for `{command}`, which did not write them"
    assert not unlisted, (
        f"`feasibility {command}` wrote {unlisted}, which the README's table "
        f"'{FILES_HEADING[3:]}' does not list: add them (and say working or shared)"
    )


# --------------------------------------------------------------------------- parsing itself


def test_block_and_table_parsers_read_what_they_should():
    text = (
        "intro\n**2. Run the main job** x\n\n```bash\nfeasibility report --a 1 \\\n  --out o"
        "  # note\n```\nafter\n```bash\nother\n```\n"
    )
    assert commands_in(block_after("Run the main job", text)) == [
        "feasibility report --a 1 --out o"
    ]
    with pytest.raises(AssertionError):
        block_after("no such marker", text)
    rows = files_table()
    assert {r["kind"] for r in rows} <= {"working", "shared", "synthetic"}, rows
    assert {"screen", "validate", "report", "synth"} <= {r["command"] for r in rows}


# --------------------------------------------------------------------------- the commands


def test_main_job_runs_and_writes_exactly_the_files_the_readme_lists(tmp_path):
    cmds = commands_in(block_after("Run the main job"))
    assert len(cmds) == 1 and cmds[0].startswith("feasibility report "), cmds
    proc = run_readme_command(cmds[0], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / out_dir(cmds[0])
    check_both_ways("report", out)
    assert all(r["kind"] == "shared" for r in files_table() if r["command"] == "report")
    # the README's next sentence opens this file
    assert f"Open `{out_dir(cmds[0])}/report.html`" in README
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Cite as" in html and "protocol file sha256" in html


@pytest.mark.parametrize("command", ["screen", "validate"])
def test_readme_examples_write_exactly_the_files_the_readme_lists(command, tmp_path):
    examples = commands_in(block_after("Each has `--help`. Examples:"))
    cmd = next(c for c in examples if c.startswith(f"feasibility {command} "))
    proc = run_readme_command(cmd, tmp_path)
    # validate --fail-on error exits 1 on the sample's planted defects (the README says so)
    ok = (0, 1) if "--fail-on" in cmd else (0,)
    assert proc.returncode in ok, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    check_both_ways(command, tmp_path / out_dir(cmd))
    assert all(r["kind"] == "working" for r in files_table() if r["command"] == command)
    if command == "screen":
        # the progress line the README quotes, with the fingerprint as a pattern
        quoted = re.search(
            r"`(protocol \S+ \(protocol file sha256 <12 hex digits>\)[^`]*)`", README
        )
        assert quoted, "README no longer quotes the protocol line"
        pattern = re.escape(quoted.group(1)).replace(re.escape("<12 hex digits>"), "[0-9a-f]{12}")
        assert re.search(pattern, proc.stderr), (quoted.group(1), proc.stderr[:2000])


@pytest.mark.parametrize("sample", ["registry", "registry_csv"])
def test_synth_files_listed_are_those_of_the_committed_samples(sample):
    """`synth` rows against data_samples/ (written by `feasibility synth`, Parquet or CSV)."""
    from feasibility.schema import TABLES

    names = listed("synth")
    fixed = {n for n in names if "<table>" not in n}
    templates = [n for n in names if "<table>" in n]
    got = written_files(ROOT / "data_samples" / sample)
    assert fixed <= got, f"README lists {sorted(fixed - got)} for synth; {sample} lacks them"
    tables = got - fixed
    assert any(tables == {t.replace("<table>", name) for name in TABLES} for t in templates), (
        f"data_samples/{sample} holds {sorted(tables)}, not one README `synth` file per table"
    )


def test_readme_counts_of_criteria_and_steps_are_the_protocols():
    from feasibility.citation import counts
    from feasibility.protocol import load_protocol

    phrase = counts(load_protocol("pomalidomide-ixazomib-dex"))
    n_crit, n_steps = (int(x) for x in re.findall(r"\d+", phrase))
    said = re.findall(r"(\d+) criteria in (\d+) funnel steps", README)
    assert said, "README no longer says how many criteria in how many funnel steps"
    assert set(said) == {(str(n_crit), str(n_steps))}, (said, phrase)
    rows = re.search(r"impact table have (\d+) rows", README)
    assert rows and int(rows.group(1)) == n_steps


# --------------------------------------------------------------------------- set-up and CI


def test_ci_runs_the_readme_setup_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    setup = commands_in(block_after("**1. Set up**"))
    tests = commands_in(block_after("**3. Run the tests**"))
    assert tests == ["pytest -n 2"], tests
    pip = [c for c in setup if c.startswith("pip install")]
    assert pip == ['pip install -e ".[dev]"'], setup
    ci_lines = [line.strip() for line in ci.splitlines()]
    assert pip[0] in ci_lines and tests[0] in ci_lines
    # the set-up's system step is the browser, and CI installs the same package
    apt = [c for c in setup if "apt-get install" in c]
    assert apt, "README set-up has no system step for the browser"
    package = apt[0].split("apt-get install", 1)[1].split()[-1]
    assert re.search(rf"apt-get install\b[^\n]*\b{re.escape(package)}\b", ci), package
    assert 'export CI="${CI:-true}"' in ci  # a missing browser fails in CI


def test_environment_yml_agrees_with_readme_and_pyproject():
    import tomllib

    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    pins = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert len(pins) == 1, deps
    m = re.fullmatch(r"python=(\d+)\.(\d+)", pins[0])
    assert m, f"environment.yml should pin one Python minor version, not {pins[0]!r}"
    pinned = (int(m.group(1)), int(m.group(2)))
    # the README states the same minimum, and names the pin (also in the conda sentence)
    flat = " ".join(README.split())
    minimum = re.search(r"Python (\d+)\.(\d+) or newer", flat)
    assert minimum, "README no longer states the Python versions"
    assert (int(minimum.group(1)), int(minimum.group(2))) == pinned
    assert f"`environment.yml` pins {pinned[0]}.{pinned[1]}" in flat
    assert f"conda activate feasibility` (Python {pinned[0]}.{pinned[1]}," in flat
    # pyproject allows it, and the pip part is README step 1's install
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == f">={pinned[0]}.{pinned[1]}"
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip == ["-e .[dev]"] or pip == ['-e ".[dev]"'], pip
    assert "untested" in section("## Quick start")  # the conda path is said to be untested
    assert sys.version_info >= pinned


def test_notebook_command_starts_jupyterlab_on_the_notebooks():
    cmds = commands_in(block_after("**4. Open the notebooks**"))
    assert cmds == ["jupyter lab notebooks/"], cmds
    assert any((ROOT / "notebooks").glob("*.ipynb"))
    jupyter = Path(sys.executable).parent / "jupyter"
    proc = subprocess.run(
        [str(jupyter), "lab", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and re.match(r"\d+\.\d+", proc.stdout), proc.stderr


@pytest.mark.parametrize("ci", ["", "true"])
def test_missing_browser_is_loud_and_fails_under_ci(ci, tmp_path):
    """No browser on PATH: the browser test is skipped with the install command and a
    banner at the end of the run; with CI=true it fails instead."""
    from _report_helpers import INSTALL_HINT, NOT_RUN

    env = {k: v for k, v in os.environ.items() if k not in ("CI", "FEASIBILITY_CHROMIUM")}
    env["PATH"] = str(tmp_path)  # an empty directory: no browser anywhere
    if ci:
        env["CI"] = ci
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-q",
            str(ROOT / "tests" / "test_report_browser.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if ci:
        assert proc.returncode == 1, proc.stdout[-2000:]
        assert "1 failed" in proc.stdout and INSTALL_HINT in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert "1 skipped" in proc.stdout
        banner = [line for line in proc.stdout.splitlines() if NOT_RUN in line and "!!!" in line]
        assert banner, proc.stdout[-2000:]
        assert INSTALL_HINT in proc.stdout


def test_citation_wording_for_both_shipped_protocols():
    from feasibility import citation
    from feasibility.protocol import load_protocol

    pom = load_protocol("pomalidomide-ixazomib-dex")
    assert citation.parts(pom) == {
        "measurable_disease": ["extramedullary_disease", "plasma_cell_leukemia"]
    }
    assert "not funnel steps" in citation.parts_sentence(pom)
    assert re.fullmatch(
        r"pomalidomide-ixazomib-dex \(protocol file sha256 [0-9a-f]{12}\)", citation.cite(pom)
    )
    assert pom.fingerprint.startswith(citation.fingerprint(pom))
    for proto in (pom, load_protocol("isatuximab-pomalidomide-dex")):
        found = citation.parts(proto)
        assert set(found) <= set(proto.steps)  # every part belongs to a step
        assert sorted(i for ids in found.values() for i in ids) == sorted(
            set(proto.criterion_ids) - set(proto.steps)
        )
        assert bool(citation.parts_sentence(proto)) == bool(found)
        assert citation.counts(proto) == (
            f"{len(proto.criteria)} criteria in {len(proto.steps)} funnel steps"
        )
