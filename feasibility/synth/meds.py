"""Medications: regimen companions, supportive care, comorbidity drugs, CYP interactors.

Includes every drug of the protocol's CYP1A2/CYP3A4 list that is used in practice, at
rates typical of a myeloma population (ciprofloxacin, clarithromycin and azole
antifungals treat infection episodes, ``infections.py``; antiepileptic inducers and
herbal products are rare), in the spellings sites send (``Rifampicin``, ``St Johns Wort``, ``Gingko
biloba`` ...), and with non-systemic routes for some (ciprofloxacin ear/eye drops,
topical ketoconazole). Route null means systemic (the site does not record routes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from feasibility.synth.cohort import Cohort
from feasibility.synth.dates import NO_DATE
from feasibility.synth.draw import between, pick, strings
from feasibility.synth.lines import ANTIVIRAL, DEX, IMID, Lines

SYSTEMIC = ((None, "oral"), (3, 7))


@dataclass(frozen=True)
class Drug:
    """A drug given to a share of patients in 1-``episodes`` episodes.

    ``days``: (min, max) episode length; ``ongoing``: chance an episode has no end date.
    ``history``: start may precede diagnosis by up to two years (chronic drugs).
    """

    names: tuple[str, ...]
    name_weights: tuple[float, ...]
    share: float
    days: tuple[int, int]
    routes: tuple[tuple[str | None, ...], tuple[float, ...]] = SYSTEMIC
    episodes: int = 1
    ongoing: float = 0.0
    history: bool = False


DRUGS: tuple[Drug, ...] = (
    # Listed CYP1A2 / CYP3A4 inhibitors and inducers.
    # Systemic ciprofloxacin, clarithromycin, voriconazole and posaconazole come with
    # infection episodes (infections.py); here eye/ear drops and azole prophylaxis.
    Drug(("ciprofloxacin", "Ciprofloxacin"), (4, 1), 0.03, (5, 14),
         (("ophthalmic", "otic"), (1, 1))),
    Drug(("posaconazole",), (1,), 0.008, (30, 120)),
    Drug(("itraconazole",), (1,), 0.008, (14, 90)),
    Drug(("ketoconazole",), (1,), 0.015, (14, 60), ((None, "oral", "topical"), (0.5, 1, 8.5))),
    Drug(("fluvoxamine",), (1,), 0.005, (90, 720), ongoing=0.5, history=True),
    Drug(("rifampin", "Rifampicin", "rifampicin"), (6, 2, 2), 0.003, (90, 180)),
    Drug(("rifabutin",), (1,), 0.001, (90, 180)),
    Drug(("rifapentine",), (1,), 0.0005, (90, 120)),
    Drug(("carbamazepine",), (1,), 0.006, (180, 1800), ongoing=0.8, history=True),
    Drug(("phenytoin", "Phenytoin"), (3, 1), 0.006, (180, 1800), ongoing=0.8, history=True),
    Drug(("phenobarbital",), (1,), 0.002, (180, 1800), ongoing=0.8, history=True),
    Drug(("nefazodone",), (1,), 0.0005, (90, 720), ongoing=0.5, history=True),
    Drug(("St. John's Wort", "St Johns Wort", "st johns wort", "Hypericum"), (3, 3, 2, 1),
         0.006, (60, 720), ongoing=0.6, history=True),
    Drug(("Ginkgo biloba", "ginkgo", "Gingko biloba", "ginkgo biloba"), (3, 2, 1, 2),
         0.01, (60, 720), ongoing=0.6, history=True),
    # Supportive care and comorbidity drugs (not listed).
    Drug(("levofloxacin",), (1,), 0.25, (30, 90)),
    Drug(("sulfamethoxazole-trimethoprim",), (1,), 0.15, (60, 365)),
    Drug(("fluconazole",), (1,), 0.10, (14, 90)),
    Drug(("ondansetron",), (1,), 0.40, (14, 120), episodes=2),
    Drug(("allopurinol",), (1,), 0.30, (14, 60)),
    Drug(("oxycodone",), (1,), 0.20, (7, 90), episodes=2),
    Drug(("gabapentin", "Gabapentin"), (3, 1), 0.15, (90, 720), ongoing=0.5),
    Drug(("omeprazole", "pantoprazole"), (1, 1), 0.30, (90, 1000), ongoing=0.6, history=True),
    Drug(("amlodipine",), (1,), 0.25, (365, 2000), ongoing=0.8, history=True),
    Drug(("lisinopril",), (1,), 0.20, (365, 2000), ongoing=0.8, history=True),
    Drug(("metformin",), (1,), 0.15, (365, 2000), ongoing=0.8, history=True),
    Drug(("atorvastatin",), (1,), 0.30, (365, 2000), ongoing=0.8, history=True),
    Drug(("apixaban",), (1,), 0.08, (90, 1000), ongoing=0.6),
    Drug(("metoprolol",), (1,), 0.10, (180, 2000), ongoing=0.7, history=True),
    Drug(("enoxaparin",), (1,), 0.10, (30, 180), ((None, "subcutaneous"), (1, 3))),
    Drug(("filgrastim",), (1,), 0.10, (5, 14), ((None, "subcutaneous"), (1, 3)), episodes=2),
    Drug(("denosumab",), (1,), 0.10, (180, 720), ((None, "subcutaneous"), (1, 3))),
    Drug(("hydrocortisone",), (1,), 0.05, (7, 30), ((None, "topical"), (1, 4))),
    Drug(("ofloxacin",), (1,), 0.03, (7, 10), (("otic", "ophthalmic"), (1, 1))),
)  # fmt: skip


def _routes(rng: np.random.Generator, routes, n: int) -> pl.Series:
    names, weights = routes
    return strings(names, pick(rng, weights, n))


def medications(rng: np.random.Generator, c: Cohort, ln: Lines) -> pl.DataFrame:
    """All medication rows of a chunk; end_date NO_DATE means ongoing."""
    frames = []

    def add(p, drug: pl.Series, route: pl.Series, start, end) -> None:
        frames.append(
            pl.DataFrame(
                {
                    "p": np.asarray(p, dtype=np.int32),
                    "drug": drug,
                    "route": route,
                    "start_date": np.asarray(start, dtype=np.int64),
                    "end_date": np.asarray(end, dtype=np.int64),
                }
            )
        )

    # Companions of each regimen, for the time on the line.
    for flag, name, share, route in (
        (DEX, "dexamethasone", 0.95, ((None, "oral"), (1, 3))),
        (IMID, "aspirin", 0.70, ((None, "oral"), (1, 3))),
        (ANTIVIRAL, "acyclovir", 0.85, ((None, "oral"), (1, 3))),
    ):
        rows = np.nonzero(flag[ln.regimen] & (rng.random(len(ln.p)) < share))[0]
        add(ln.p[rows], strings((name, name.capitalize()), (rng.random(len(rows)) < 0.1)),
            _routes(rng, route, len(rows)), ln.start[rows], ln.end[rows])  # fmt: skip
    # Zoledronic acid from the first line for ~60%.
    rows = np.nonzero((ln.line == 1) & (rng.random(len(ln.p)) < 0.6))[0]
    start = ln.start[rows] + rng.integers(0, 30, len(rows))
    end = start + rng.integers(365, 731, len(rows))
    add(ln.p[rows], strings(("zoledronic acid",), np.zeros(len(rows))),
        _routes(rng, ((None, "intravenous"), (1, 3)), len(rows)), start, end)  # fmt: skip

    for drug in DRUGS:
        for episode in range(drug.episodes):
            share = drug.share if episode == 0 else drug.share * 0.4
            p = np.nonzero(rng.random(c.n) < share)[0]
            lead = 730 if drug.history else 0
            start = between(rng, c.dx[p] - lead, c.end_fu[p])
            end = start + rng.integers(drug.days[0], drug.days[1] + 1, len(p))
            end = np.where(rng.random(len(p)) < drug.ongoing, NO_DATE, end)
            names = strings(drug.names, pick(rng, drug.name_weights, len(p)))
            add(p, names, _routes(rng, drug.routes, len(p)), start, end)

    df = pl.concat(frames)
    p = df["p"].to_numpy()
    end = df["end_date"].to_numpy()
    # Nothing runs past death; an ongoing drug of a patient who died ends at death.
    died = c.death[p] != NO_DATE
    end = np.where(died, np.minimum(end, c.death[p]), end)
    # A few names arrive with stray whitespace (names match after trimming).
    names = df["drug"]
    pad = pl.Series(rng.random(len(df)) < 0.01)
    names = pl.select(pl.when(pad).then(names + " ").otherwise(names)).to_series()
    return df.with_columns(drug=names, end_date=pl.Series(end, dtype=pl.Int64))
