"""Deferred typed-Parquet tables and ``Registry.scan``: the lazy scan a screen reads must
give the eager loader's normalised tables (exact duplicates apart), and a screen of a
deferred registry must give the same answers as one of a fully loaded registry, on a
registry written untidy on purpose (padded ids, case and spacing variants, synonyms,
values outside the vocabularies, missing values, duplicates)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _registry_helpers import write_registry

from feasibility.engine import IndexEvents, screen
from feasibility.errors import RegistryError
from feasibility.registry import load_registry
from feasibility.schema import TABLES

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
ROW = "_row"


def _some(df: pl.DataFrame, seed: int, share: float = 0.15) -> pl.Series:
    """A reproducible mask over ``share`` of the rows."""
    return pl.Series(np.random.default_rng(seed).random(df.height) < share)


def _vary(df: pl.DataFrame, column: str, seed: int, *spellings: str) -> pl.DataFrame:
    """Rewrite some values of ``column`` through a format string (``{}`` = the value)."""
    out = df.get_column(column)
    for i, spelling in enumerate(spellings):
        mask = _some(df, seed + i, 0.1)
        varied = pl.Series([spelling.format(v) if v is not None else None for v in out])
        out = out.zip_with(~mask, varied)
    return df.with_columns(out.alias(column))


def _untidy(src: Path, dst: Path, patients: int = 1500) -> Path:
    """A typed Parquet registry from the sample, with every kind of untidiness the loader
    normalises or sets aside, plus exact duplicate rows."""
    dst.mkdir(parents=True)
    keep = pl.read_parquet(src / "patients.parquet")["patient_id"].head(patients)
    for table in TABLES:
        df = pl.read_parquet(src / f"{table}.parquet").filter(
            pl.col("patient_id").is_in(keep.implode())
        )
        df = _vary(df, "patient_id", 1, " {}", "{}  ")
        if table == "patients":
            df = _vary(df, "sex", 10, " {} ", "x{}")
            df = df.with_columns(
                pl.when(_some(df, 12)).then(pl.col("sex").str.to_lowercase()).otherwise("sex")
            )
        elif table == "diagnoses":
            df = _vary(df, "code", 20, " {} ", "{}.")
            df = df.with_columns(
                pl.when(_some(df, 22)).then(pl.col("code").str.to_lowercase()).otherwise("code")
            )
            df = df.with_columns(
                pl.when(_some(df, 23, 0.02)).then(pl.lit("")).otherwise("code").alias("code")
            )
        elif table == "measurements":
            df = _vary(df, "test", 30, " {}", "{} ")
            df = df.with_columns(
                pl.when(_some(df, 33)).then(pl.col("test").str.to_uppercase()).otherwise("test")
            )
            df = _vary(df, "unit", 34, " {} ", "{}x")
            df = df.with_columns(
                pl.when(_some(df, 36, 0.03)).then(pl.lit("ldh")).otherwise("test").alias("test"),
                pl.when(_some(df, 37, 0.03)).then(None).otherwise("value").alias("value"),
            )
        elif table == "assessments":
            df = df.with_columns(
                pl.when(_some(df, 40)).then(pl.col("item").str.to_uppercase()).otherwise("item"),
                pl.when(_some(df, 41))
                .then(" " + pl.col("value").str.to_uppercase())
                .otherwise("value"),
            )
            df = df.with_columns(
                pl.when(_some(df, 42, 0.03))
                .then(pl.lit("maybe"))
                .otherwise("value")
                .alias("value"),
                pl.when(_some(df, 43, 0.03))
                .then(pl.lit("karnofsky"))
                .otherwise("item")
                .alias("item"),
            )
        elif table == "medications":
            df = df.with_columns(
                pl.when(_some(df, 50))
                .then(pl.col("drug").str.to_uppercase() + " ")
                .otherwise("drug"),
                pl.when(_some(df, 51)).then(pl.lit(" Topical")).otherwise("route").alias("route"),
            )
            df = df.with_columns(
                pl.when(_some(df, 52, 0.05)).then(pl.lit("")).otherwise("route").alias("route"),
            )
            rifampicin = pl.DataFrame(
                {"patient_id": keep.head(20), "drug": ["Rifampicin", "HYPERICUM"] * 10}
            ).with_columns(
                route=pl.lit(None, pl.String),
                start_date=pl.lit(dt.date(2024, 6, 1)),
                end_date=pl.lit(None, pl.Date),
            )
            df = pl.concat([df, rifampicin.select(df.columns)])
        elif table == "procedures":
            df = df.with_columns(
                pl.when(_some(df, 60))
                .then(pl.col("category").str.to_uppercase())
                .otherwise("category"),
            )
            df = df.with_columns(
                pl.when(_some(df, 61, 0.03))
                .then(pl.lit("dental"))
                .otherwise("category")
                .alias("category")
            )
        # exact duplicates (some after a case variant, which the loader also counts once)
        df = pl.concat([df, df.filter(_some(df, 90 + len(table), 0.05))])
        df.write_parquet(dst / f"{table}.parquet")
    return dst


@pytest.fixture(scope="module")
def untidy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _untidy(SAMPLE, tmp_path_factory.mktemp("untidy") / "registry")


def _without_repeats(df: pl.DataFrame) -> pl.DataFrame:
    return df.unique([c for c in df.columns if c != ROW], keep="first", maintain_order=True)


#: Tables a typed Parquet file defers; patients are always read at load (contract 5.1:
#: conflicting duplicate patient rows are merged before anyone reads them).
DEFERRED = [t for t in TABLES if t != "patients"]


def test_patients_are_read_at_load_even_from_typed_parquet(untidy: Path) -> None:
    reg = load_registry(untidy)
    assert reg.loaded("patients")
    assert not any(reg.loaded(t) for t in DEFERRED)


@pytest.mark.parametrize("table", DEFERRED)
def test_scan_gives_the_eager_table_without_its_duplicates(untidy: Path, table: str) -> None:
    deferred = load_registry(untidy)
    eager = load_registry(untidy, defer=False)
    assert not deferred.loaded(table) and eager.loaded(table)
    scanned = deferred.scan(table).collect()
    loaded = eager.tables[table].collect()
    assert scanned.schema == loaded.schema
    assert _without_repeats(scanned).equals(loaded)
    assert scanned.height > loaded.height  # the scan kept the planted duplicates
    # the deferred table, once collected, is the eager one
    assert deferred.tables[table].collect().equals(loaded)
    assert deferred.loaded(table)


def test_untidy_registry_really_is_untidy(untidy: Path) -> None:
    """The equivalence above means something only if the scan had work to do."""
    eager = load_registry(untidy, defer=False)
    problems = set(eager.set_aside.select("table", "problem").iter_rows())
    assert {
        ("patients", "sex_outside_vocabulary"),
        ("measurements", "unknown_test"),
        ("measurements", "unit_outside_vocabulary"),
        ("measurements", "missing_value"),
        ("assessments", "unknown_item"),
        ("assessments", "value_outside_vocabulary"),
        ("procedures", "category_outside_vocabulary"),
    } <= problems
    raw = pl.read_parquet(untidy / "measurements.parquet")
    assert raw.filter(pl.col("patient_id").str.starts_with(" ")).height > 0
    assert raw.filter(pl.col("test") != pl.col("test").str.to_lowercase()).height > 0


def _outputs(result) -> dict[str, pl.DataFrame]:
    return {
        "patient_status": result.patient_status,
        "funnel": result.funnel(),
        "impact": result.impact(),
        "evidence": result.evidence(),
    }


@pytest.mark.parametrize("protocol", ["pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex"])
@pytest.mark.parametrize(
    "index",
    [
        dt.date(2024, 6, 30),
        IndexEvents(
            "therapies",
            where="line_number >= 2",
            start=dt.date(2022, 1, 1),
            end=dt.date(2024, 12, 31),
        ),
    ],
    ids=["fixed", "events"],
)
def test_screen_of_deferred_registry_equals_screen_of_loaded_one(
    untidy: Path, protocol: str, index
) -> None:
    deferred = load_registry(untidy)
    fast = screen(deferred, protocol, index)
    slow = screen(load_registry(untidy, defer=False), protocol, index)
    for name, frame in _outputs(fast).items():
        assert frame.equals(_outputs(slow)[name]), name
    # the screen read the files through scans: nothing deferred was loaded whole
    assert not any(deferred.loaded(t) for t in DEFERRED)
    # and relaxing from memory agrees too
    assert (
        fast.relax("ecog", threshold=3)  # a criterion of both protocols (issue 11 dropped
        .funnel()  # ICARIA-MM's hemoglobin exclusion)
        .equals(slow.relax("ecog", threshold=3).funnel())
    )


def test_csv_tables_are_read_at_load(tmp_path: Path) -> None:
    root = tmp_path / "csv"
    shutil.copytree(SAMPLE.parent / "registry_csv", root)
    reg = load_registry(root)
    assert all(reg.loaded(t) for t in TABLES)


def test_set_aside_and_materialise_load_deferred_tables(untidy: Path) -> None:
    reg = load_registry(untidy)
    assert not reg.loaded("measurements")
    assert reg.materialise("measurements") is reg and reg.loaded("measurements")
    assert not reg.loaded("assessments")
    counts = reg.set_aside
    assert all(reg.loaded(t) for t in TABLES)
    assert counts.equals(load_registry(untidy, defer=False).set_aside)


def test_parquet_with_text_dates_is_read_at_load_and_fails_there(tmp_path: Path) -> None:
    """A Parquet column that needs parsing is not deferred: its error names the row at load."""
    bad = pl.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "test": ["hemoglobin", "hemoglobin"],
            "value": [9.0, 9.5],
            "unit": ["g/dL", "g/dL"],
            "measured_on": ["2024-06-01", "2024-13-01"],
        }
    )
    root = write_registry(tmp_path / "r", {"measurements": bad}, fmt="parquet")
    with pytest.raises(RegistryError) as err:
        load_registry(root)
    assert err.value.table == "measurements" and err.value.row == 2
    assert "2024-13-01" in str(err.value)


def test_progress_names_deferred_tables(untidy: Path, capsys: pytest.CaptureFixture) -> None:
    reg = load_registry(untidy, progress=True)
    assert "measurements: measurements.parquet (typed; read when first needed)" in (
        capsys.readouterr().err
    )
    reg.materialise("measurements")
    assert "measurements: " in capsys.readouterr().err  # the row count line, when read


def test_damaged_deferred_file_fails_with_the_table_named(tmp_path: Path) -> None:
    """A file whose header reads but whose data pages are damaged loads (deferred) and
    then fails in the screen with a RegistryError naming the table and file."""
    root = tmp_path / "damaged"
    shutil.copytree(SAMPLE, root)
    data = bytearray((root / "measurements.parquet").read_bytes())
    start = len(data) // 4
    data[start : start + 2000] = bytes(b ^ 0xFF for b in data[start : start + 2000])
    (root / "measurements.parquet").write_bytes(bytes(data))
    reg = load_registry(root)
    with pytest.raises(RegistryError) as err:
        screen(reg, "pomalidomide-ixazomib-dex", dt.date(2024, 6, 30))
    assert err.value.table == "measurements"
    assert "cannot read measurements.parquet" in str(err.value)
    with pytest.raises(RegistryError, match="measurements"):
        load_registry(root, defer=False)
