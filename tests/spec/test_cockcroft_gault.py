"""``cockcroft_gault``: creatinine clearance (mL/min) = (140 - age) x weight_kg / (72 x
creatinine mg/dL), x 0.85 for women, from the most recent creatinine (30 days) and weight
(90 days) (contract 3); sex U is evaluated both ways (contract 5.1).

Every patient below is 60 on the index (born 1964-06-30), so with creatinine 1.0 mg/dL
the clearance is 80 x weight / 72: 27 kg gives exactly 30 (men), 25.5 for women."""

CG = "cockcroft_gault: {op: '>=', value: 30, creatinine_window: 30d, weight_window: 90d}"
MEAS = "patient_id | test | value | unit | measured_on\n"
BORN = "1964-06-30"


def _patients(*rows: tuple[str, str]) -> str:
    body = "\n".join(f"{pid} | {sex} | {BORN} |" for pid, sex in rows)
    return "patient_id | sex | birth_date | death_date\n" + body


def test_threshold_and_sex_factor(spec):
    """At 27 kg and creatinine 1.0 mg/dL a man has exactly 30 mL/min (passes, >= 30), a
    woman 25.5 (fails). Sex U passes only when the female value passes, fails when the
    male value fails, else unknown: here unknown; at 70 kg both pass, so U passes."""
    rows = []
    for pid, kg in (("m27", 27), ("f27", 27), ("u27", 27), ("u70", 70)):
        rows.append(f"{pid} | weight | {kg} | kg | -5")
        rows.append(f"{pid} | creatinine | 1.0 | mg/dL | -2")
    spec(
        tables={
            "patients": _patients(("m27", "M"), ("f27", "F"), ("u27", "U"), ("u70", "U")),
            "measurements": MEAS + "\n".join(rows),
        },
        rule=CG,
        expected={"m27": "pass", "f27": "fail", "u27": "unknown", "u70": "pass"},
    )


def test_units_are_converted(spec):
    """Creatinine in umol/L (/ 88.4) and weight in lb (x 0.45359237) count once converted:
    a man of 60, 154.3 lb (70 kg), creatinine 442 umol/L (5 mg/dL) has 15.6 mL/min."""
    spec(
        tables={
            "patients": _patients(("m", "M")),
            "measurements": MEAS
            + "m | weight | 154.3 | lb | -5\nm | creatinine | 442 | umol/L | -2",
        },
        rule=CG,
        expected={"m": "fail"},
    )


def test_missing_or_old_inputs_are_unknown(spec):
    """No creatinine within 30 days, or no weight within 90 days, is unknown; the most
    recent value of each decides."""
    spec(
        tables={
            "patients": _patients(("no_weight", "M"), ("old_cr", "M"), ("latest", "M")),
            "measurements": MEAS
            + """
                no_weight | creatinine | 1.0 | mg/dL | -2
                no_weight | weight     | 70  | kg    | -91
                old_cr    | creatinine | 1.0 | mg/dL | -31
                old_cr    | weight     | 70  | kg    | -5
                latest    | weight     | 70  | kg    | -5
                latest    | creatinine | 1.0 | mg/dL | -20
                latest    | creatinine | 5.0 | mg/dL | -2
            """,
        },
        rule=CG,
        expected={"no_weight": "unknown", "old_cr": "unknown", "latest": "fail"},
    )


def test_birth_after_index_is_unknown(spec):
    """Contract 5.2: a birth date after the index gives no age: unknown."""
    spec(
        tables={
            "patients": "patient_id | sex | birth_date | death_date\nlate | M | +1 |",
            "measurements": MEAS
            + "late | weight | 70 | kg | -5\nlate | creatinine | 1.0 | mg/dL | -2",
        },
        rule=CG,
        expected={"late": "unknown"},
    )
