"""Near-miss source values: drug names and diagnosis codes that match no list entry but lie
within a small edit distance of one (DQD's source-value completeness, turned towards what
a screen reads: a misspelt interacting drug silently passes the exclusion).

Only distinct values are compared (a registry holds a few hundred distinct drug names and
a few thousand codes), so the cost does not grow with the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from feasibility.schema import canonical_drug


#: Edit distance allowed for a name of this many characters (after removing punctuation):
#: shorter names need an exact letter sequence, else every short word is "near" something.
#: Team decision: 1 edit for 5-7 letters, 2 from 8 letters (typing slips: one or two
#: letters swapped, doubled or dropped).
def max_distance(length: int) -> int:
    return 0 if length < 5 else 1 if length < 8 else 2


_PUNCT = re.compile(r"[^a-z0-9]+")


def squash(text: str) -> str:
    """Lower case, letters and digits only (``St. John's Wort`` -> ``stjohnswort``)."""
    return _PUNCT.sub("", text.lower())


def levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Edit distance (insert, delete, substitute); stops early above ``limit``."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > (limit if limit is not None else max(len(a), len(b))):
        return (limit or 0) + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


@lru_cache(maxsize=1)
def listed_drugs() -> dict[str, str]:
    """Every accepted spelling of every drug on a drug list (lower case) -> its canonical
    name, from ``feasibility/codelists``."""
    from feasibility.protocol import load_codelists

    _, drugs = load_codelists()
    out: dict[str, str] = {}
    for dl in drugs.values():
        out.update(dl.spellings)
    return out


@lru_cache(maxsize=1)
def listed_codes() -> tuple[str, ...]:
    """Every ICD-10 prefix on a code list (normalised, at least 3 characters)."""
    from feasibility.protocol import load_codelists

    codes, _ = load_codelists()
    return tuple(sorted({p for cl in codes.values() for p in cl.prefixes if len(p) >= 3}))


def drug_near_miss(value: str, listed: dict[str, str] | None = None) -> str | None:
    """The listed drug ``value`` nearly spells, or None (it matches one, or none is near)."""
    listed = listed if listed is not None else listed_drugs()
    name = canonical_drug(value)
    if not name or name in listed or value.strip().lower() in listed:
        return None
    words = name.split()
    if len(words) > 1 and len(words[0]) >= 5 and words[0] in listed:
        return listed[words[0]]  # a listed name followed by a salt, form or strength
    mine = squash(name)
    if not mine:
        return None
    best: tuple[int, str] | None = None
    for spelling, canon in listed.items():
        other = squash(spelling)
        limit = max_distance(min(len(mine), len(other)))
        d = levenshtein(mine, other, limit)
        if d <= limit and (best is None or d < best[0]):
            best = (d, canon)
    return None if best is None else best[1]


_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")


#: Letters typed for look-alike digits in a code's numeric positions.
_LOOKALIKE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def code_near_miss(code: str, prefixes: Iterable[str] | None = None) -> str | None:
    """The listed ICD-10 prefix ``code`` nearly matches, or None. A near miss matches no
    listed prefix but would with look-alike letters read as digits after the first
    character (``C9O.0`` for C90), or is ill-formed and one edit away from a prefix. A
    different well-formed code is a different diagnosis, never a near miss."""
    c = code.replace(".", "").replace(" ", "").strip().upper()
    listed = tuple(prefixes if prefixes is not None else listed_codes())
    if not c or any(c.startswith(p) for p in listed):
        return None
    fixed = c[:1] + c[1:].translate(_LOOKALIKE)
    if fixed != c:
        for p in listed:
            if fixed.startswith(p):
                return p
    if _ICD10.match(c):
        return None
    for p in listed:
        if levenshtein(c[: len(p)], p, 1) <= 1:
            return p
    return None


def near_miss_map(values: Iterable[str], kind: str) -> dict[str, str | None]:
    """``value -> near-missed listed entry`` for distinct ``values`` (``kind``: drug|code)."""
    fn = drug_near_miss if kind == "drug" else code_near_miss
    return {v: fn(v) for v in values}
