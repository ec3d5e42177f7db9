"""The OMOP vocabulary tables as lookups: concepts by code, descendants, ingredients, ICD-10.

Descendants come from ``concept_ancestor``; a database whose ``concept_ancestor`` is empty
(Synthea27Nj ships it empty) falls back to the transitive closure of ``'Is a'`` in
``concept_relationship``, which is what ``concept_ancestor`` is built from.
Drugs roll up to RxNorm ingredients the same way: ``concept_ancestor`` first, else the
closure over RxNorm's own relationships towards the ingredient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from .mapping import ConceptRef
from .source import OmopSource

#: Relationships that lead from a drug product towards its ingredient(s).
TOWARDS_INGREDIENT: tuple[str, ...] = (
    "Maps to",
    "RxNorm has ing",
    "Consists of",
    "Tradename of",
    "Quantified form of",
    "Contains",
    "Marketed form of",
    "Box of",
    "Has precise ing",
    "Form of",
)
#: The same links recorded the other way round (a subset often keeps only one direction).
FROM_INGREDIENT: tuple[str, ...] = (
    "Mapped from",
    "RxNorm ing of",
    "Constitutes",
    "Has tradename",
    "Has quantified form",
    "Contained in",
    "Has marketed form",
    "Available as box",
    "Precise ing of",
    "Has form",
)

ICD10_VOCABULARIES: tuple[str, ...] = ("ICD10CM", "ICD10")
_CONCEPT_COLUMNS = (
    "concept_id",
    "concept_name",
    "domain_id",
    "vocabulary_id",
    "concept_class_id",
    "standard_concept",
    "concept_code",
)
_MAX_DEPTH = 12


_LEADING = re.compile(
    r"^(?:nda\d+\s+|abuse-deterrent\s+|\d+(?:\.\d+)?\s+(?:ml|hr|day|actuat|mg|g|l)\s+)+",
    re.IGNORECASE,
)
_BEFORE_STRENGTH = re.compile(r"^(.*?)\s+\d")
_PACK_PART = re.compile(r"\(([^()]*)\)")


def rxnorm_name_ingredients(name: str) -> list[str]:
    """Ingredient names read from an RxNorm normalised drug name, lower case.

    RxNorm names clinical and branded drugs by a fixed grammar: ``[quantity] ingredient
    strength unit [/ ingredient strength unit ...] dose form [brand]`` and packs as
    ``{n (drug) / n (drug)} Pack [brand]``. This is the fallback for vocabulary subsets
    whose relationships do not reach the ingredient concept (Synthea27Nj's)."""
    text = name.strip()
    parts = _PACK_PART.findall(text) if text.startswith("{") else [text]
    found: list[str] = []
    for part in parts:
        part = re.sub(r"\[[^\]]*\]", "", part).strip()
        for comp in part.split(" / "):
            comp = _LEADING.sub("", comp.strip())
            match = _BEFORE_STRENGTH.match(comp)
            ingredient = (match.group(1) if match else "").strip().lower()
            if ingredient and ingredient not in found and ingredient != "inert ingredients":
                found.append(ingredient)
    return found


_DRUG_CLASSES = (
    "Clinical Drug",
    "Branded Drug",
    "Quant Clinical Drug",
    "Quant Branded Drug",
    "Clinical Drug Comp",
    "Branded Drug Comp",
    "Clinical Pack",
    "Branded Pack",
)


class Vocabulary:
    """Lookups over a database's ``concept``, ``concept_relationship``, ``concept_ancestor``."""

    def __init__(self, source: OmopSource) -> None:
        if source.has("concept"):
            lf = source.get("concept")
            have = lf.collect_schema().names()
            self.concept = lf.select(
                [
                    pl.col(c) if c in have else pl.lit(None, pl.String).alias(c)
                    for c in _CONCEPT_COLUMNS
                ]
            ).with_columns(
                pl.col("concept_id").cast(pl.Int64), pl.col("concept_code").cast(pl.String)
            )
        else:
            self.concept = pl.LazyFrame(
                schema={c: (pl.Int64 if c == "concept_id" else pl.String) for c in _CONCEPT_COLUMNS}
            )
        self.concept = self.concept.collect().lazy()
        self.relationship = (
            source.get("concept_relationship").select(
                pl.col("concept_id_1").cast(pl.Int64),
                pl.col("concept_id_2").cast(pl.Int64),
                pl.col("relationship_id").cast(pl.String),
            )
            if source.has("concept_relationship")
            else None
        )
        self.ancestor = None
        if source.has("concept_ancestor"):
            anc = source.get("concept_ancestor").select(
                pl.col("ancestor_concept_id").cast(pl.Int64),
                pl.col("descendant_concept_id").cast(pl.Int64),
            )
            if anc.head(1).collect().height:
                self.ancestor = anc
        self.hierarchy = "concept_ancestor" if self.ancestor is not None else "'Is a' closure"

    # ------------------------------------------------------------------ concepts

    def resolve(self, refs: Iterable[ConceptRef]) -> list[int]:
        """concept_ids of ``refs``: found by vocabulary and code, plus any id given."""
        refs = list(refs)
        ids = {r.id for r in refs if r.id is not None}
        if refs:
            keys = pl.DataFrame(
                {
                    "vocabulary_id": [r.vocabulary for r in refs],
                    "concept_code": [r.code for r in refs],
                }
            ).lazy()
            found = self.concept.join(keys, on=["vocabulary_id", "concept_code"]).select(
                "concept_id"
            )
            ids |= set(found.collect()["concept_id"].to_list())
        return sorted(ids)

    def known(self, refs: Iterable[ConceptRef]) -> bool:
        """True if the vocabulary has any of ``refs`` (by id or by vocabulary and code): the
        database can record that fact, so its absence for a patient is an absence."""
        refs = list(refs)
        if not refs:
            return False
        ids = [r.id for r in refs if r.id is not None]
        by_id = self.concept.filter(pl.col("concept_id").is_in(ids)).select(pl.len())
        if by_id.collect().item():
            return True
        return bool(self.resolve([ConceptRef(r.vocabulary, r.code) for r in refs]))

    def names(self) -> pl.LazyFrame:
        """concept_id, concept_name, vocabulary_id, concept_code, concept_class_id."""
        return self.concept.select(
            "concept_id", "concept_name", "vocabulary_id", "concept_code", "concept_class_id"
        )

    # ------------------------------------------------------------------ hierarchy

    def descendants(self, ids: Iterable[int], *, include_self: bool = True) -> list[int]:
        """Every descendant of ``ids`` (and themselves unless ``include_self`` is false)."""
        start = sorted(set(ids))
        if not start:
            return []
        if self.ancestor is not None:
            found = (
                self.ancestor.filter(pl.col("ancestor_concept_id").is_in(start))
                .select("descendant_concept_id")
                .collect()["descendant_concept_id"]
                .to_list()
            )
            out = set(found)
        else:
            out = self._closure(start, ["Subsumes"], ["Is a"])
        if include_self:
            out |= set(start)
        else:
            out -= set(start)
        return sorted(out)

    def _closure(self, start: list[int], forward: list[str], backward: list[str]) -> set[int]:
        """Concepts reachable from ``start`` along ``forward`` relationships (id_1 -> id_2)
        or ``backward`` ones (id_2 -> id_1), excluding the start unless reached again."""
        if self.relationship is None:
            return set()
        edges = (
            pl.concat(
                [
                    self.relationship.filter(pl.col("relationship_id").is_in(forward)).select(
                        src="concept_id_1", dst="concept_id_2"
                    ),
                    self.relationship.filter(pl.col("relationship_id").is_in(backward)).select(
                        src="concept_id_2", dst="concept_id_1"
                    ),
                ]
            )
            .unique()
            .collect()
        )
        seen: set[int] = set()
        frontier = set(start)
        for _ in range(_MAX_DEPTH):
            nxt = set(edges.filter(pl.col("src").is_in(list(frontier)))["dst"].to_list()) - seen
            if not nxt:
                break
            seen |= nxt
            frontier = nxt
        return seen

    # ------------------------------------------------------------------ drugs

    def ingredients(self, drug_ids: Iterable[int]) -> pl.DataFrame:
        """One row per (drug_concept_id, ingredient_concept_id, ingredient) for the RxNorm
        (or RxNorm Extension) ingredients of each drug; a drug that is an ingredient maps to
        itself. Drugs whose ingredient cannot be reached are left out."""
        drugs = sorted({int(d) for d in drug_ids if d is not None})
        schema = {"drug_concept_id": pl.Int64, "ingredient_concept_id": pl.Int64}
        pairs: list[pl.DataFrame] = [
            pl.DataFrame({"drug_concept_id": drugs, "ingredient_concept_id": drugs}, schema=schema)
        ]
        if self.ancestor is not None:
            pairs.append(
                self.ancestor.filter(pl.col("descendant_concept_id").is_in(drugs))
                .select(
                    drug_concept_id="descendant_concept_id",
                    ingredient_concept_id="ancestor_concept_id",
                )
                .collect()
            )
        ingredients = self.concept.filter(
            pl.col("concept_class_id") == "Ingredient",
            pl.col("vocabulary_id").is_in(["RxNorm", "RxNorm Extension"]),
        ).select(
            pl.col("concept_id").alias("ingredient_concept_id"),
            pl.col("concept_name").str.to_lowercase().alias("ingredient"),
        )
        found = (
            pl.concat(pairs)
            .unique()
            .lazy()
            .join(ingredients, on="ingredient_concept_id")
            .with_columns(pl.lit("vocabulary").alias("ingredient_from"))
            .collect()
        )
        unresolved = sorted(set(drugs) - set(found["drug_concept_id"].to_list()))
        if self.relationship is not None and unresolved:
            # only drugs concept_ancestor did not resolve walk the relationships
            reached = self._reach(unresolved, list(TOWARDS_INGREDIENT), list(FROM_INGREDIENT))
            more = (
                reached.lazy()
                .join(ingredients, on="ingredient_concept_id")
                .with_columns(pl.lit("vocabulary").alias("ingredient_from"))
                .collect()
            )
            found = pl.concat([found, more]).unique()
        # fallback: the ingredient named in the RxNorm name of a drug the links miss
        missing = (
            self.concept.filter(
                pl.col("concept_id").is_in(drugs),
                ~pl.col("concept_id").is_in(found["drug_concept_id"].implode()),
                pl.col("vocabulary_id").is_in(["RxNorm", "RxNorm Extension"]),
                pl.col("concept_class_id").is_in(_DRUG_CLASSES),
            )
            .select("concept_id", "concept_name")
            .collect()
        )
        parsed = [
            (cid, None, ing)
            for cid, name in missing.iter_rows()
            for ing in rxnorm_name_ingredients(name or "")
        ]
        by_name = pl.DataFrame(
            parsed,
            schema={**schema, "ingredient": pl.String},
            orient="row",
        ).with_columns(pl.lit("rxnorm_name").alias("ingredient_from"))
        return pl.concat([found, by_name]).sort("drug_concept_id", "ingredient")

    def _reach(self, start: list[int], forward: list[str], backward: list[str]) -> pl.DataFrame:
        """(drug_concept_id, ingredient_concept_id) for every concept reachable from each
        start along ``forward`` (id_1 -> id_2) or ``backward`` (id_2 -> id_1) links."""
        assert self.relationship is not None
        rel = self.relationship
        edges = (
            pl.concat(
                [
                    rel.filter(pl.col("relationship_id").is_in(forward)).select(
                        src="concept_id_1", dst="concept_id_2"
                    ),
                    rel.filter(pl.col("relationship_id").is_in(backward)).select(
                        src="concept_id_2", dst="concept_id_1"
                    ),
                ]
            )
            .unique()
            .collect()
        )
        pairs = pl.DataFrame(
            {"drug_concept_id": start, "node": start},
            schema={"drug_concept_id": pl.Int64, "node": pl.Int64},
        )
        seen = pairs
        for _ in range(_MAX_DEPTH):
            step = (
                pairs.join(edges, left_on="node", right_on="src")
                .select("drug_concept_id", node="dst")
                .join(seen, on=["drug_concept_id", "node"], how="anti")
                .unique()
            )
            if step.height == 0:
                break
            seen = pl.concat([seen, step])
            pairs = step
        return seen.rename({"node": "ingredient_concept_id"})

    # ------------------------------------------------------------------ diagnoses

    def icd10_sources(self, standard_ids: Iterable[int]) -> pl.DataFrame:
        """ICD-10(-CM) codes whose concept 'Maps to' each standard concept:
        one row per (concept_id, icd10_code)."""
        schema = {"concept_id": pl.Int64, "icd10_code": pl.String}
        ids = sorted({int(i) for i in standard_ids if i is not None})
        if self.relationship is None or not ids:
            return pl.DataFrame(schema=schema)
        icd = self.concept.filter(pl.col("vocabulary_id").is_in(ICD10_VOCABULARIES)).select(
            "concept_id", icd10_code="concept_code"
        )
        return (
            self.relationship.filter(
                pl.col("relationship_id") == "Maps to", pl.col("concept_id_2").is_in(ids)
            )
            .join(icd, left_on="concept_id_1", right_on="concept_id")
            .select(concept_id="concept_id_2", icd10_code="icd10_code")
            .unique()
            .sort("concept_id", "icd10_code")
            .collect()
        )

    def icd10_concepts(self) -> pl.LazyFrame:
        """concept_id -> ICD-10(-CM) code for the source concepts in the vocabulary."""
        return self.concept.filter(pl.col("vocabulary_id").is_in(ICD10_VOCABULARIES)).select(
            "concept_id", icd10_code="concept_code"
        )
