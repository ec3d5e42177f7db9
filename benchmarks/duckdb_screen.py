"""A hand-written DuckDB SQL screen of `pomalidomide-ixazomib-dex` at one index date: the
baseline a data engineer would write instead of using ``feasibility``.

It is written from the contract alone (sections 2, 3 and 5: three-valued criteria, the
amendments' sex-U, undated-row, previously-treated, plausibility and code-list rules) and
shares no code with the package, so it is also an independent check of the engine: the
benchmark compares their patient_status. It reads the registry's Parquet files directly,
normalises what the contract says must be normalised (ids, sex, codes, units, items, drug
names), and writes ``patient_status.csv`` and ``funnel.csv`` like ``feasibility screen``.

    python benchmarks/duckdb_screen.py --data data_samples/registry --index-date 2024-06-30 --out /tmp/ddb
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import duckdb

#: Accepted units and their factor to the canonical unit (contract section 1).
COUNTS = {
    "/mm3": 1.0,
    "/uL": 1.0,
    "10^9/L": 1000.0,
    "10^3/uL": 1000.0,
    "10*9/L": 1000.0,
    "10*3/uL": 1000.0,
}
UNITS = {
    "creatinine": {"mg/dL": 1.0, "umol/L": 1 / 88.4, "µmol/L": 1 / 88.4},
    "hemoglobin": {"g/dL": 1.0, "g/L": 0.1},
    "platelets": COUNTS,
    "anc": COUNTS,
    "wbc": COUNTS,
    "plasma_cells_pct": {"%": 1.0},
    "plasma_cells_abs": {
        "10^9/L": 1.0,
        "10^3/uL": 1.0,
        "10*9/L": 1.0,
        "10*3/uL": 1.0,
        "/uL": 0.001,
        "/mm3": 0.001,
    },
    "plasma_cells_flow": {"/150000 events": 1.0},
    "weight": {"kg": 1.0, "lb": 0.45359237},
    "qtc": {"ms": 1.0},
}

#: Plausible ranges in canonical units (contract 5.2: values outside never decide).
RANGES = {
    "creatinine": (0.1, 30.0),
    "hemoglobin": (2.0, 25.0),
    "platelets": (0.0, 2_000_000.0),
    "anc": (0.0, 100_000.0),
    "wbc": (0.0, 500_000.0),
    "plasma_cells_pct": (0.0, 100.0),
    "plasma_cells_abs": (0.0, 200.0),
    "plasma_cells_flow": (0.0, 150_000.0),
    "weight": (25.0, 300.0),
    "qtc": (250.0, 800.0),
}

#: The interacting drugs (contract section 3) with the synonyms and brands of 5.3.
DRUGS = {
    "fluvoxamine": ["luvox"],
    "enoxacin": [],
    "ciprofloxacin": ["cipro"],
    "clarithromycin": ["biaxin"],
    "telithromycin": [],
    "itraconazole": ["sporanox"],
    "voriconazole": ["vfend"],
    "ketoconazole": ["nizoral"],
    "nefazodone": [],
    "posaconazole": ["noxafil"],
    "rifampin": ["rifampicin", "rifadin", "rimactane"],
    "rifapentine": ["priftin"],
    "rifabutin": ["mycobutin"],
    "carbamazepine": ["tegretol"],
    "phenytoin": ["dilantin", "fosphenytoin"],
    "phenobarbital": ["luminal"],
    "ginkgo biloba": ["ginkgo", "gingko biloba"],
    "st johns wort": ["hypericum"],
}
SALT_OR_FORM = {
    "hydrochloride",
    "hcl",
    "sodium",
    "potassium",
    "calcium",
    "maleate",
    "mesylate",
    "sulfate",
    "citrate",
    "er",
    "xr",
    "sr",
    "cr",
    "la",
    "xl",
    "dr",
}


def drug_key(name: str) -> str:
    """Case-fold, drop punctuation, collapse spaces, drop trailing salt/form words."""
    words = re.sub(r"[^\w\s]", "", name.casefold()).split()
    while len(words) > 1 and words[-1] in SALT_OR_FORM:
        words.pop()
    return " ".join(words)


LISTED = {
    drug_key(alias): generic for generic, aliases in DRUGS.items() for alias in [generic, *aliases]
}

STEPS = [
    "alive_at_index",
    "myeloma_diagnosis",
    "previously_treated",
    "measurable_disease",
    "creatinine_clearance",
    "neutrophils",
    "platelets",
    "hemoglobin",
    "ecog",
    "pregnancy_test",
    "other_malignancy",
    "nursing",
    "concurrent_therapy",
    "peripheral_neuropathy",
    "major_surgery",
    "cyp_interacting_drugs",
    "cardiovascular",
    "qtc",
    "hiv",
    "hepatitis",
    "gi_absorption",
    "diarrhea",
]
COLUMNS = STEPS[:4] + ["extramedullary_disease", "plasma_cell_leukemia"] + STEPS[4:]


def _codes(prefixes: list[str]) -> str:
    """SQL: the normalised code starts with one of ``prefixes`` (dots removed)."""
    return "(" + " OR ".join(f"starts_with(code, '{p.replace('.', '')}')" for p in prefixes) + ")"


def _status(truth: str, exclusion: bool) -> str:
    """'pass'/'fail'/'unknown' from a three-valued truth (NULL = unknown)."""
    yes, no = ("fail", "pass") if exclusion else ("pass", "fail")
    return f"CASE WHEN ({truth}) THEN '{yes}' WHEN NOT ({truth}) THEN '{no}' ELSE 'unknown' END"


def screen_sql(data: Path, index: str) -> str:
    """The whole screen as one SQL script; its last statement is the patient status."""
    d = f"DATE '{index}'"
    tables = {p.stem for p in data.glob("*.parquet")}

    def src(t: str, cols: str) -> str:
        if t in tables:
            return f"read_parquet('{data / (t + '.parquet')}')"
        return f"(SELECT {cols} WHERE false)"

    units = " UNION ALL ".join(
        f"SELECT '{t}' AS test, '{u}' AS unit, {f!r} AS factor, {RANGES[t][0]!r} AS lo, {RANGES[t][1]!r} AS hi"
        for t, us in UNITS.items()
        for u, f in us.items()
    )
    drugs = " UNION ALL ".join(f"SELECT '{k}' AS k" for k in LISTED)
    latest_m = """
      SELECT pid, arg_max(val, (measured_on, val)) AS val FROM meas
      WHERE measured_on <= {d} AND measured_on >= {d} - INTERVAL {w} DAY AND test = '{t}'
      GROUP BY pid"""
    latest_a = """
      SELECT pid, arg_max(v, (assessed_on, v)) AS v FROM ass
      WHERE assessed_on <= {d} {lower} AND item = '{t}' GROUP BY pid"""

    def lm(t: str, w: int) -> str:
        """Latest dated value of test ``t`` in its window, and the patient's undated values."""
        return (
            f"(SELECT * FROM ({latest_m.format(d=d, w=w, t=t)}) FULL JOIN "
            f"(SELECT pid, list(val) AS u FROM meas WHERE measured_on IS NULL AND test = '{t}' "
            f"GROUP BY pid) USING (pid))"
        )

    def la(t: str, w: int | None) -> str:
        lower = "" if w is None else f"AND assessed_on >= {d} - INTERVAL {w} DAY"
        return (
            f"(SELECT * FROM ({latest_a.format(d=d, t=t, lower=lower)}) FULL JOIN "
            f"(SELECT pid, list(v) AS u FROM ass WHERE assessed_on IS NULL AND item = '{t}' "
            f"GROUP BY pid) USING (pid))"
        )

    def leaf(alias: str, cond: str, col: str, missing: str = "NULL") -> str:
        """Contract 5.1 for a most-recent leaf: the dated latest value decides (``missing``
        when there is none) unless an undated value, were it the latest, would decide
        otherwise; then unknown. ``cond`` is the condition with ``x`` for the value."""
        base = f"CASE WHEN {alias}.{col} IS NULL THEN {missing} ELSE {cond.replace('x', f'{alias}.{col}')} END"
        each = f"list_transform({alias}.u, lambda x: {cond})"
        return (
            f"CASE WHEN {alias}.u IS NULL THEN {base} WHEN list_bool_and({each}) IS NOT DISTINCT FROM ({base}) "
            f"AND list_bool_or({each}) IS NOT DISTINCT FROM ({base}) THEN {base} END"
        )

    def exists(table: str, match: str, date: str, lo: str | None) -> str:
        """Kleene EXISTS over a patient's matching rows: TRUE if a dated row falls in
        [lo, index], NULL if only undated rows match (5.1), else FALSE."""
        inwin = f"{date} <= {d}" + ("" if lo is None else f" AND {date} >= {lo}")
        return (
            f"(SELECT pid, bool_or({inwin}) AS t, bool_or({date} IS NULL) AS n "
            f"FROM {table} WHERE {match} GROUP BY pid)"
        )

    malignancy = (
        "(substr(code,1,3) BETWEEN 'C00' AND 'C96' AND NOT starts_with(code,'C44') "
        f"AND NOT starts_with(code,'C90')) OR {_codes(['D45', 'D46', 'D47.1', 'D47.3', 'D47.4'])}"
    )

    def kexists(alias: str) -> str:
        return f"CASE WHEN {alias}.t THEN TRUE WHEN {alias}.n THEN NULL ELSE FALSE END"

    return f"""
    CREATE OR REPLACE TEMP TABLE unit_factor AS {units};
    CREATE OR REPLACE TEMP TABLE listed AS {drugs};
    -- patients: blank ids are no patients, a field that conflicts between rows is missing
    CREATE OR REPLACE TEMP TABLE pat AS
      SELECT pid,
        CASE WHEN count(DISTINCT coalesce(sex, '~')) = 1 THEN any_value(sex) END AS sex,
        CASE WHEN count(DISTINCT coalesce(CAST(birth_date AS VARCHAR), '~')) = 1 THEN any_value(birth_date) END AS birth,
        CASE WHEN count(DISTINCT coalesce(CAST(death_date AS VARCHAR), '~')) = 1 THEN any_value(death_date) END AS death,
        count(DISTINCT coalesce(CAST(death_date AS VARCHAR), '~')) > 1 AS death_conflict
      FROM (SELECT NULLIF(trim(patient_id), '') AS pid,
                   CASE WHEN upper(trim(sex)) IN ('F','M','U') THEN upper(trim(sex)) END AS sex,
                   birth_date, death_date
            FROM {src("patients", "''::VARCHAR patient_id")})
      WHERE pid IS NOT NULL GROUP BY pid;
    CREATE OR REPLACE TEMP TABLE meas AS
      SELECT NULLIF(trim(m.patient_id), '') AS pid, u.test, m.value * u.factor AS val, m.measured_on
      FROM {src("measurements", "''::VARCHAR patient_id, '' test, 0.0 value, '' unit, DATE '2000-01-01' measured_on")} m
      JOIN unit_factor u ON lower(trim(m.test)) = u.test AND trim(m.unit) = u.unit
      WHERE m.value * u.factor BETWEEN u.lo AND u.hi AND (m.measured_on IS NULL OR (m.measured_on <= {d}
        AND m.measured_on >= {d} - INTERVAL 90 DAY));
    CREATE OR REPLACE TEMP TABLE ass AS
      SELECT NULLIF(trim(patient_id), '') AS pid, lower(trim(item)) AS item,
             CASE WHEN lower(trim(item)) IN ('ecog','neuropathy_grade','diarrhea_grade')
                  THEN lpad(lower(trim(value)), 2, '0') ELSE lower(trim(value)) END AS v, assessed_on
      FROM {src("assessments", "''::VARCHAR patient_id, '' item, '' value, DATE '2000-01-01' assessed_on")}
      WHERE (assessed_on IS NULL OR assessed_on <= {d}) AND (
        (lower(trim(item)) IN ('ecog','neuropathy_grade') AND lower(trim(value)) IN ('0','1','2','3','4'))
        OR (lower(trim(item)) = 'diarrhea_grade' AND lower(trim(value)) IN ('0','1','2','3','4','5'))
        OR (lower(trim(item)) IN ('neuropathy_pain','childbearing_potential','breastfeeding') AND lower(trim(value)) IN ('yes','no'))
        OR (lower(trim(item)) = 'pregnancy_test' AND lower(trim(value)) IN ('negative','positive')));
    CREATE OR REPLACE TEMP TABLE dx AS
      SELECT NULLIF(trim(patient_id), '') AS pid, upper(replace(replace(code, '.', ''), ' ', '')) AS code, diagnosed_on
      FROM {src("diagnoses", "''::VARCHAR patient_id, '' code, DATE '2000-01-01' diagnosed_on")};
    CREATE OR REPLACE TEMP TABLE th AS
      SELECT NULLIF(trim(patient_id), '') AS pid, start_date, end_date, investigational
      FROM {src("therapies", "''::VARCHAR patient_id, DATE '2000-01-01' start_date, DATE '2000-01-01' end_date, true investigational")};
    CREATE OR REPLACE TEMP TABLE les AS
      SELECT NULLIF(trim(patient_id), '') AS pid, imaged_on,
             CASE WHEN longest_diameter_cm BETWEEN 0 AND 50 THEN longest_diameter_cm END AS cm, bone_contiguous AS bc
      FROM {src("lesions", "''::VARCHAR patient_id, DATE '2000-01-01' imaged_on, 0.0 longest_diameter_cm, true bone_contiguous")};
    CREATE OR REPLACE TEMP TABLE proc AS
      SELECT NULLIF(trim(patient_id), '') AS pid, lower(trim(category)) AS category, performed_on
      FROM {src("procedures", "''::VARCHAR patient_id, '' category, DATE '2000-01-01' performed_on")};
    CREATE OR REPLACE TEMP TABLE med AS
      SELECT NULLIF(trim(patient_id), '') AS pid, k, start_date, end_date,
             (route IS NULL OR trim(route) = '' OR lower(trim(route)) NOT IN ('topical','ophthalmic','otic')) AS systemic
      FROM {src("medications", "''::VARCHAR patient_id, '' drug, '' route, DATE '2000-01-01' start_date, DATE '2000-01-01' end_date")} m
      JOIN listed ON drug_key(m.drug) = listed.k;
    CREATE OR REPLACE TEMP TABLE truth AS
    SELECT p.pid,
      p.sex,
      CASE WHEN p.birth IS NULL OR p.birth > {d} THEN NULL ELSE date_sub('year', p.birth, {d}) END AS age,
      -- alive_at_index (5.2: death before birth is unknown, a conflicting death date too)
      CASE WHEN p.death_conflict OR (p.death IS NOT NULL AND p.birth IS NOT NULL AND p.death < p.birth) THEN NULL
           WHEN p.death IS NULL OR p.death > {d} THEN TRUE ELSE FALSE END AS alive_at_index,
      {kexists("my")} AS myeloma_diagnosis,
      CASE WHEN tp.t THEN TRUE WHEN tp.n THEN NULL ELSE FALSE END AS previously_treated,
      CASE WHEN le.t THEN TRUE WHEN le.n THEN NULL ELSE FALSE END AS extramedullary_disease,
      -- any_present: pass if a part passes, fail if a part is known and none passes
      CASE WHEN ({leaf("pct", "x > 5", "val")}) OR ({leaf("pab", "x > 0.5", "val")}) OR ({leaf("pfl", "x >= 200", "val")}) THEN TRUE
           WHEN ({leaf("pct", "x > 5", "val")}) IS NOT NULL OR ({leaf("pab", "x > 0.5", "val")}) IS NOT NULL
             OR ({leaf("pfl", "x >= 200", "val")}) IS NOT NULL THEN FALSE END AS plasma_cell_leukemia,
      (140 - (CASE WHEN p.birth IS NULL OR p.birth > {d} THEN NULL ELSE date_sub('year', p.birth, {d}) END))
        * wt.val / (72 * cr.val) AS cg,
      {leaf("anc", "x >= 1000", "val")} AS neutrophils,
      {leaf("plt", "x >= 50000", "val")} AS platelets,
      {leaf("hb", "x >= 8.0", "val")} AS hemoglobin,
      {leaf("ec", "CAST(x AS INT) <= 2", "v")} AS ecog,
      cbp.v AS cbp, preg.v AS preg,
      {kexists("om")} AS other_malignancy,
      {leaf("bf", "x = 'yes'", "v", "FALSE")} AS nursing,
      {kexists("ct")} AS concurrent_therapy,
      (CAST(ng.v AS INT) >= 3) OR (CAST(ng.v AS INT) = 2 AND np.v = 'yes') AS peripheral_neuropathy,
      ng.pid IS NULL AND np.pid IS NULL AS neuropathy_none,
      {kexists("ms")} AS major_surgery,
      {kexists("cyp")} AS cyp_interacting_drugs,
      {kexists("cv")} AS cardiovascular,
      {leaf("qt", "x > 470", "val")} AS qtc,
      {kexists("hiv")} AS hiv,
      {kexists("hep")} AS hepatitis,
      ({kexists("gi1")}) OR ({kexists("gi2")}) AS gi_absorption,
      {leaf("di", "CAST(x AS INT) >= 2", "v", "FALSE")} AS diarrhea
    FROM pat p
    LEFT JOIN {exists("dx", _codes(["C90.0", "C90.1", "C90.2"]), "diagnosed_on", None)} my USING (pid)
    LEFT JOIN (SELECT pid, bool_or(start_date < {d} OR (start_date IS NULL AND end_date < {d})) AS t,
                      bool_or(start_date IS NULL) AS n FROM th GROUP BY pid) tp USING (pid)
    LEFT JOIN (SELECT pid,
                 bool_or(imaged_on BETWEEN {d} - INTERVAL 90 DAY AND {d} AND cm >= 2.0 AND NOT bc) AS t,
                 bool_or((imaged_on IS NULL OR imaged_on BETWEEN {d} - INTERVAL 90 DAY AND {d})
                         AND (cm IS NULL OR cm >= 2.0) AND (bc IS NULL OR NOT bc)) AS n
               FROM les WHERE imaged_on IS NULL OR imaged_on <= {d} GROUP BY pid) le USING (pid)
    LEFT JOIN {lm("plasma_cells_pct", 30)} pct USING (pid)
    LEFT JOIN {lm("plasma_cells_abs", 30)} pab USING (pid)
    LEFT JOIN {lm("plasma_cells_flow", 30)} pfl USING (pid)
    LEFT JOIN {lm("creatinine", 30)} cr USING (pid)
    LEFT JOIN {lm("weight", 90)} wt USING (pid)
    LEFT JOIN {lm("anc", 30)} anc USING (pid)
    LEFT JOIN {lm("platelets", 30)} plt USING (pid)
    LEFT JOIN {lm("hemoglobin", 30)} hb USING (pid)
    LEFT JOIN {lm("qtc", 30)} qt USING (pid)
    LEFT JOIN {la("ecog", 30)} ec USING (pid)
    LEFT JOIN {la("childbearing_potential", None)} cbp USING (pid)
    LEFT JOIN {la("pregnancy_test", 7)} preg USING (pid)
    LEFT JOIN {la("breastfeeding", 90)} bf USING (pid)
    LEFT JOIN {la("neuropathy_grade", 30)} ng USING (pid)
    LEFT JOIN {la("neuropathy_pain", 30)} np USING (pid)
    LEFT JOIN {la("diarrhea_grade", 30)} di USING (pid)
    LEFT JOIN {exists("dx", malignancy, "diagnosed_on", f"{d} - INTERVAL 365 DAY")} om USING (pid)
    LEFT JOIN (SELECT pid, bool_or(c IS TRUE) AS t, bool_or(c IS NULL) AS n FROM (
                 SELECT pid, (start_date <= {d} AND (end_date IS NULL OR end_date >= {d})) AND investigational AS c
                 FROM th WHERE start_date IS NULL OR start_date <= {d}) GROUP BY pid) ct USING (pid)
    LEFT JOIN {exists("proc", "category = 'major_surgery'", "performed_on", f"{d} - INTERVAL 14 DAY")} ms USING (pid)
    LEFT JOIN (SELECT pid, bool_or(c IS TRUE) AS t, bool_or(c IS NULL) AS n FROM (
                 SELECT pid, start_date <= {d} AND (end_date IS NULL OR end_date >= {d} - INTERVAL 7 DAY) AS c
                 FROM med WHERE systemic AND (start_date IS NULL OR start_date <= {d})) GROUP BY pid) cyp USING (pid)
    LEFT JOIN {exists("dx", _codes(["I20", "I21", "I22", "I24", "I25.11", "I47", "I48", "I49", "I50"]), "diagnosed_on", f"{d} - INTERVAL 183 DAY")} cv USING (pid)
    LEFT JOIN {exists("dx", _codes(["B20", "Z21"]), "diagnosed_on", None)} hiv USING (pid)
    LEFT JOIN {exists("dx", _codes(["B16", "B18.0", "B18.1", "Z22.51", "B17.1", "B18.2", "B19.1", "B19.2"]), "diagnosed_on", None)} hep USING (pid)
    LEFT JOIN {exists("dx", _codes(["K90", "K91.2"]), "diagnosed_on", None)} gi1 USING (pid)
    LEFT JOIN {exists("dx", _codes(["R13.1"]), "diagnosed_on", f"{d} - INTERVAL 183 DAY")} gi2 USING (pid);
    SELECT pid AS patient_id, {d} AS index_date,
      {_status("alive_at_index", False)} AS alive_at_index,
      {_status("myeloma_diagnosis", False)} AS myeloma_diagnosis,
      {_status("previously_treated", False)} AS previously_treated,
      {_status("extramedullary_disease OR plasma_cell_leukemia", False)} AS measurable_disease,
      {_status("extramedullary_disease", False)} AS extramedullary_disease,
      {_status("plasma_cell_leukemia", False)} AS plasma_cell_leukemia,
      -- sex U (or missing) both ways (5.1): pass if it passes as F, fail if it fails as M
      CASE WHEN cg IS NULL THEN 'unknown'
           WHEN sex = 'F' THEN CASE WHEN cg * 0.85 >= 30 THEN 'pass' ELSE 'fail' END
           WHEN sex = 'M' THEN CASE WHEN cg >= 30 THEN 'pass' ELSE 'fail' END
           WHEN cg * 0.85 >= 30 THEN 'pass' WHEN cg < 30 THEN 'fail' ELSE 'unknown' END AS creatinine_clearance,
      {_status("neutrophils", False)} AS neutrophils,
      {_status("platelets", False)} AS platelets,
      {_status("hemoglobin", False)} AS hemoglobin,
      {_status("ecog", False)} AS ecog,
      CASE WHEN sex = 'M' THEN 'pass'
           WHEN cbp IS NULL THEN 'unknown' WHEN cbp = 'no' THEN 'pass'
           WHEN preg = 'negative' THEN 'pass'
           WHEN preg = 'positive' AND sex = 'F' THEN 'fail' ELSE 'unknown' END AS pregnancy_test,
      {_status("other_malignancy", True)} AS other_malignancy,
      {_status("nursing", True)} AS nursing,
      {_status("concurrent_therapy", True)} AS concurrent_therapy,
      CASE WHEN neuropathy_none THEN 'unknown' ELSE {_status("peripheral_neuropathy", True)} END AS peripheral_neuropathy,
      {_status("major_surgery", True)} AS major_surgery,
      {_status("cyp_interacting_drugs", True)} AS cyp_interacting_drugs,
      {_status("cardiovascular", True)} AS cardiovascular,
      {_status("qtc", True)} AS qtc,
      {_status("hiv", True)} AS hiv,
      {_status("hepatitis", True)} AS hepatitis,
      {_status("gi_absorption", True)} AS gi_absorption,
      {_status("diarrhea", True)} AS diarrhea
    FROM truth ORDER BY pid
    """


def run(data: Path, index: str, out: Path, threads: int | None = None) -> dict[str, float]:
    """Screen ``data`` at ``index`` and write patient_status.csv and funnel.csv to ``out``."""
    t0 = time.perf_counter()
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    con.create_function("drug_key", drug_key, ["VARCHAR"], "VARCHAR")
    *setup, final = [s for s in screen_sql(data, index).split(";") if s.strip()]
    for statement in setup:
        con.execute(statement)
    con.execute(f"CREATE TEMP TABLE status AS {final}")
    steps = " AND ".join(f"{c} = 'pass'" for c in STEPS)
    con.execute(
        f"CREATE TEMP TABLE status_e AS SELECT *, CASE WHEN {steps} THEN 'pass' WHEN "
        + " OR ".join(f"{c} = 'fail'" for c in STEPS)
        + " THEN 'fail' ELSE 'unknown' END AS eligible FROM status"
    )
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY status_e TO '{out / 'patient_status.csv'}' (HEADER)")
    # funnel: remaining after each step in protocol order
    rows = [
        "SELECT 0 AS step, 'registry' AS criterion, count(*) AS remaining, count(*) AS remaining_with_unknown FROM status_e"
    ]
    for i, c in enumerate(STEPS, 1):
        passed = " AND ".join(f"{s} = 'pass'" for s in STEPS[:i])
        known = " AND ".join(f"{s} <> 'fail'" for s in STEPS[:i])
        rows.append(
            f"SELECT {i}, '{c}', count(*) FILTER (WHERE {passed}), count(*) FILTER (WHERE {known}) FROM status_e"
        )
    con.execute(
        "COPY (SELECT step, criterion, remaining, remaining_with_unknown, "
        "coalesce(lag(remaining) OVER (ORDER BY step) - remaining, 0) AS excluded FROM ("
        + " UNION ALL ".join(rows)
        + f") ORDER BY step) TO '{out / 'funnel.csv'}' (HEADER)"
    )
    return {"wall": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--index-date", default="2024-06-30")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    figures = run(args.data, args.index_date, args.out, args.threads)
    print(f"duckdb screen {figures['wall']:.2f} s wall", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
