"""``feasibility report`` end to end through the CLI dispatcher."""

from __future__ import annotations

import polars as pl
from _report_helpers import write_registry

from feasibility.cli import main
from feasibility.disclosure import INTERNAL_NOTICE


def test_cli_writes_report_and_suppressed_funnel(tmp_path, capsys) -> None:
    reg = write_registry(tmp_path / "reg", n=300, seed=5)
    out = tmp_path / "out"
    code = main(
        [
            "report",
            "--data",
            str(reg),
            "--protocol",
            "pomalidomide-ixazomib-dex",
            "--index-date",
            "2024-06-30",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-suppression="on"' in html and 'data-threshold="10"' in html
    funnel = pl.read_csv(out / "funnel.csv")
    assert funnel.columns[:6] == [
        "step",
        "criterion",
        "label",
        "remaining",
        "remaining_with_unknown",
        "excluded",
    ]
    assert funnel["criterion"][0] == "registry" and funnel["remaining"][0] == 300
    for c in ("remaining", "remaining_with_unknown", "excluded"):
        assert all(v == 0 or (v > 10 and v % 5 == 0) for v in funnel[c].drop_nulls())
    assert not (out / ".report-").exists() and not list(out.glob(".report-*"))


def test_cli_no_suppression_and_threshold(tmp_path) -> None:
    reg = write_registry(tmp_path / "reg", n=120, seed=9)
    out = tmp_path / "out"
    assert (
        main(
            [
                "report",
                "--data",
                str(reg),
                "--index-date",
                "2024-06-30",
                "--out",
                str(out),
                "--no-suppression",
                "--quiet",
                "--no-validation",
            ]
        )
        == 0
    )
    assert INTERNAL_NOTICE.upper() in (out / "report.html").read_text(encoding="utf-8")
    assert set(pl.read_csv(out / "funnel.csv")["disclosure"]) == {INTERNAL_NOTICE}
    out2 = tmp_path / "out2"
    assert (
        main(
            [
                "report",
                "--data",
                str(reg),
                "--index-date",
                "2024-06-30",
                "--out",
                str(out2),
                "--suppression-threshold",
                "20",
                "--quiet",
                "--no-validation",
            ]
        )
        == 0
    )
    f = pl.read_csv(out2 / "funnel.csv")
    assert all(v == 0 or v >= 20 for v in f["remaining"].drop_nulls())


def test_cli_bad_input_is_one_line_error(tmp_path, capsys) -> None:
    code = main(
        [
            "report",
            "--data",
            str(tmp_path / "missing"),
            "--index-date",
            "2024-06-30",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "feasibility report: error:" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "report.html").exists()


def test_cli_event_options_need_index_events(tmp_path, capsys) -> None:
    reg = write_registry(tmp_path / "reg", n=30, seed=1)
    code = main(
        [
            "report",
            "--data",
            str(reg),
            "--index-date",
            "2024-06-30",
            "--index-where",
            "line_number >= 2",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 2
    assert "--index-events" in capsys.readouterr().err


def test_cli_event_mode(tmp_path) -> None:
    reg = write_registry(tmp_path / "reg", n=200, seed=4)
    out = tmp_path / "out"
    code = main(
        [
            "report",
            "--data",
            str(reg),
            "--index-events",
            "therapies",
            "--index-where",
            "line_number >= 1",
            "--index-from",
            "2023-01-01",
            "--out",
            str(out),
            "--quiet",
            "--no-validation",
        ]
    )
    assert code == 0
    funnel = pl.read_csv(out / "funnel.csv")
    assert funnel["criterion"].to_list()[:2] == ["registry", "index_event"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Index: mode" in html and "event" in html and "line_number &gt;= 1" in html
    cohort = pl.read_csv(out / "cohort.csv")
    # the cohort is the patients with an index event: every one has an index date
    assert "No index date" not in cohort["level"].to_list()
    assert "Computed over patients with an index event" in html
    assert "per year" in html and "Index events from <strong>2023-01-01</strong>" in html
