"""The law figures a plan's AMT turns on, per year, with their sources: the CPA appendix's check.

The figures come from the same place as the plan's (`planner.law.law_for_years`, at the
inflation the plan assumed for projected years) and each names its source as `isoplan law YEAR`
prints it, with the address of the document (data/federal/YEAR.yaml) for a published year and
the indexing rule for a projected one. If the law cannot be read (a folder made by a version with
other law data), the appendix says where to look instead of failing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pandas as pd
import yaml

from models.law import STATUSES
from planner.errors import InputError
from planner.law import JURISDICTIONS, citations, data_dir, law_for_years
from planner.report.common import inflation
from planner.report.formats import MONEY, TEXT
from planner.report.model import Block, Links, Paragraph, Table

FEDERAL = (
    ("amt.exemption", "AMT exemption"),
    ("amt.phaseout_start", "exemption phase-out starts at AMTI"),
    ("amt.rate_breakpoint", "28% rate above (AMTI less exemption)"),
)
CALIFORNIA = (
    ("ca.amt_exemption", "California AMT exemption"),
    ("ca.amt_phaseout_start", "California phase-out starts"),
)


@cache
def _document(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _url(year: int, jurisdiction: str, name: str) -> str | None:
    """The deep link of a figure's source: the published year's reference, else the rule's
    (where `planner.law` reads them: `JURISDICTIONS`' folder and projection file)."""
    spec = JURISDICTIONS[jurisdiction]
    doc = _document(str(data_dir() / spec.folder / f"{year}.yaml"))
    entry = doc.get("parameters", {}).get(name)
    if entry is None:
        doc = _document(str(data_dir() / spec.projection))
        entry = doc.get("rules", {}).get(name)
    if not isinstance(entry, dict):
        return None
    ref = entry.get("reference", {})
    url = ref.get("url") or doc.get("documents", {}).get(ref.get("document"), {}).get("url")
    return url if isinstance(url, str) and url.startswith("https://") else None


def law_blocks(years: list[int], filing_status: Any, meta: dict[str, str], ca: bool) -> list[Block]:
    """A table of the AMT's law figures per year (the household's filing status, or every
    status when the folder does not say it), and their sources."""
    if not years:
        return []
    try:
        laws = law_for_years(years, inflation(meta))
    except InputError as exc:
        return [Paragraph((f"Law figures: run `isoplan law YEAR` ({exc}).",), "note")]
    statuses = [filing_status] if filing_status in STATUSES else list(STATUSES)
    params = FEDERAL + (CALIFORNIA if ca else ())
    heads = {y: f"{y}*" if laws[y].projected else str(y) for y in years}
    rows: dict[str, list[Any]] = {"figure": [], "filing status": []}
    rows.update({heads[y]: [] for y in years})
    for name, label in params:
        for s in statuses:
            rows["figure"].append(label)
            rows["filing status"].append(s)
            for y in years:
                law = laws[y].states.get("ca") if name.startswith("ca.") else laws[y]
                value = None if law is None or name not in law.values else law.get(name, s)
                rows[heads[y]].append(value)
    kinds: dict[str, str | list[str]] = {"figure": TEXT, "filing status": TEXT}
    kinds.update({heads[y]: MONEY for y in years})
    notes = (
        "From isoplan's law data, the figures the plan used (not Parquet cells): "
        "`isoplan law YEAR` prints every figure with its source. A starred year is projected: "
        "the last published year's figures indexed by each one's statutory rule at the assumed "
        "inflation.",
    )
    table = Table("Law figures used", pd.DataFrame(rows), kinds, {}, notes)
    # One line per source: a projected figure's rule is the same in every projected year.
    sources: dict[tuple[str, str, str], list[str]] = {}
    for y in years:
        for name, label in params:
            jurisdiction = "ca" if name.startswith("ca.") else "federal"
            try:
                text = citations(y, jurisdiction).get(name, "")
            except InputError:
                text = ""
            if text:
                sources.setdefault((label, text, _url(y, jurisdiction, name) or ""), []).append(
                    heads[y]
                )
    links = tuple(
        (f"{', '.join(ys)}: {label}: {text}", url) for (label, text, url), ys in sources.items()
    )
    blocks: list[Block] = [table]
    if links:
        blocks.append(Links("Sources of the law figures", links))
    return blocks
