"""``feasibility report`` end to end through the CLI dispatcher."""

from __future__ import annotations

import polars as pl
from _report_helpers import write_registry

from feasibility.cli import main


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
        assert not funnel[c].drop_nulls().is_between(1, 10).any()


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
    assert "INTERNAL USE ONLY" in (out / "report.html").read_text(encoding="utf-8")
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
    assert not f["remaining"].drop_nulls().is_between(1, 20).any()


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
    # patients without a qualifying event have no index date, hence no age group
    assert "No index date" in cohort.filter(pl.col("variable") == "age_group")["level"].to_list()
