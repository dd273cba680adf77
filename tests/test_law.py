"""The tax-law data: loads, validates, every figure sourced; bad files fail with a clear error."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from models.law import PARAMETER_NAMES, STATUSES, YearLaw
from planner import law as law_module
from planner.errors import LawDataError
from planner.law import law_for_years, parse_year_file, published_years


def test_published_years_complete() -> None:
    assert published_years()[:3] == [2024, 2025, 2026]
    for year in (2024, 2025, 2026):
        law = law_for_years([year])[year]
        assert not law.projected
        assert set(law.values) == set(PARAMETER_NAMES)


def test_every_parameter_cites_a_listed_document() -> None:
    for path in sorted((law_module.data_dir() / "federal").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, entry in doc["parameters"].items():
            assert entry["reference"]["document"] in doc["documents"], (path.name, name)
            assert entry["description"] and entry["unit"], (path.name, name)


def test_key_figures(laws: dict[int, YearLaw]) -> None:
    assert laws[2026].values["amt.phaseout_start"] == {
        "single": 500000,
        "mfj": 1000000,
        "mfs": 500000,
        "hoh": 500000,
    }
    assert laws[2026].values["amt.phaseout_rate"] == 0.5
    assert laws[2025].values["amt.phaseout_rate"] == 0.25
    assert laws[2025].values["deductions.standard"]["single"] == 15750  # OBBBA §70102


def test_projection(laws: dict[int, YearLaw]) -> None:
    y2027 = laws[2027]
    assert y2027.projected
    # AMT phase-out start indexes only from 2027, from $1,000,000 (nearest $100), MFS half.
    assert y2027.values["amt.phaseout_start"]["mfj"] == 1_025_000
    assert y2027.values["amt.phaseout_start"]["mfs"] == 512_500
    assert y2027.values["salt.cap"]["single"] == 40804
    assert laws[2030].values["salt.cap"]["single"] == 10000
    assert laws[2030].values["salt.phasedown_threshold"] is None
    assert y2027.values["niit.threshold"]["single"] == 200000  # not indexed
    for name in ("iso.annual_limit", "iso.max_term_years", "tax_table.first_row_edges"):
        assert laws[2030].values[name] == laws[2026].values[name]  # statutory, not indexed
    edges = y2027.values["ordinary.brackets"]
    for s in STATUSES:
        assert all(b > a for a, b in zip(edges[s], edges[s][1:], strict=False))
    assert edges["mfs"] == [e / 2 for e in edges["mfj"]]
    flat = law_for_years([2028], inflation=0.0)[2028]
    assert flat.values["amt.exemption"] == laws[2026].values["amt.exemption"]


def test_projected_zero_rate_band_is_half_the_joint_one(laws: dict[int, YearLaw]) -> None:
    """§1(j)(5)(B)(i): the joint (and HOH) 0% amounts are indexed and rounded down to $50; any
    other individual, single or MFS, has half the joint amount in effect. 2027 at 2.5%:
    98,900 x 1.025 = 101,372.50 -> 101,350, so 50,675 (indexing 49,450 itself: 50,650)."""
    zero = laws[2027].values["capital_gains.zero_rate_max"]
    assert zero == {"single": 50675, "mfj": 101350, "mfs": 50675, "hoh": 67850}
    for year in (2028, 2030):
        zero = laws[year].values["capital_gains.zero_rate_max"]
        assert zero["single"] == zero["mfs"] == zero["mfj"] / 2
    # The 15% band: only MFS is half the joint one (§1(j)(5)(B)(ii)(I)); single has its own.
    fifteen = laws[2027].values["capital_gains.fifteen_rate_max"]
    assert fifteen["mfs"] == fifteen["mfj"] / 2 and fifteen["single"] == 559100


def test_mfs_salt_phasedown_is_half_the_rate(laws: dict[int, YearLaw]) -> None:
    """The worksheet phases the whole cap down by 30% and halves it last (line 10): MFS 15%."""
    for year in (2025, 2026, 2027, 2029):
        rate = laws[year].values["salt.phasedown_rate"]
        assert rate["mfs"] == rate["mfj"] / 2 == 0.15, year
    assert laws[2024].values["salt.phasedown_rate"] == laws[2030].values["salt.phasedown_rate"] == 0


def test_senior_deduction_years(laws: dict[int, YearLaw]) -> None:
    """$6,000 per senior 2025-2028 (none for MFS), not indexed; none before or after."""
    for year in (2025, 2026, 2027, 2028):
        amount = laws[year].values["senior_deduction.amount"]
        assert amount == {"single": 6000, "mfj": 6000, "mfs": 0, "hoh": 6000}, year
        threshold = laws[year].values["senior_deduction.phaseout_threshold"]
        assert threshold == {"single": 75000, "mfj": 150000, "mfs": 75000, "hoh": 75000}, year
    for year in (2024, 2029, 2030):
        assert set(laws[year].values["senior_deduction.amount"].values()) == {0}, year


def test_projection_can_be_refused() -> None:
    with pytest.raises(LawDataError, match="projection is off"):
        law_for_years([2027], allow_projection=False)
    with pytest.raises(LawDataError, match="no tax-law data"):
        law_for_years([2019])


def _write_variant(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    src = law_module.data_dir() / "federal" / "2026.yaml"
    doc = yaml.safe_load(src.read_text(encoding="utf-8"))
    mutate(doc)
    out = tmp_path / "2026.yaml"
    out.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["parameters"]["ordinary.brackets"]["value"]["mfj"].reverse(),
            "ordinary.brackets.mfj: bracket edges must increase",
        ),
        (
            lambda d: d["parameters"]["amt.exemption"]["value"].pop("hoh"),
            "amt.exemption: filing status 'hoh' missing",
        ),
        (
            lambda d: d["parameters"]["niit.threshold"].pop("reference"),
            "niit.threshold: missing 'reference'",
        ),
        (lambda d: d["parameters"].pop("salt.cap"), "parameter 'salt.cap' missing"),
        (
            lambda d: d["parameters"]["amt.exemption"]["value"].update(single="90k"),
            "amt.exemption.single: expected a number",
        ),
        (lambda d: d.update(year=2025), "'year' must be an integer equal to the file name"),
        (
            lambda d: d["parameters"]["iso.post_termination_months"].update(value=2.5),
            "iso.post_termination_months: expected a whole number of months",
        ),
        (
            lambda d: d["parameters"]["tax_table.first_row_edges"].update(value=[5, 25, 15]),
            "tax_table.first_row_edges: bracket edges must increase",
        ),
        (
            lambda d: d["parameters"]["tax_table.wide_row_width"].update(value=0),
            "tax_table: rows need a positive width",
        ),
        (
            lambda d: d["parameters"]["ordinary.brackets"]["value"]["single"].pop(),
            "edges for 7 rates",
        ),
    ],
)
def test_bad_law_file(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _write_variant(tmp_path, mutate)
    with pytest.raises(LawDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_year_file(path)


def test_missing_year_between_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = law_module.data_dir()
    (tmp_path / "federal").mkdir()
    for year in (2024, 2026):
        src = data / "federal" / f"{year}.yaml"
        (tmp_path / "federal" / f"{year}.yaml").write_text(src.read_text(encoding="utf-8"))
    (tmp_path / "projection.yaml").write_text((data / "projection.yaml").read_text("utf-8"))
    monkeypatch.setattr(law_module, "data_dir", lambda: tmp_path)
    law_module._published.cache_clear()
    try:
        with pytest.raises(LawDataError, match="year 2025 missing"):
            law_for_years([2026])
    finally:
        law_module._published.cache_clear()


def test_no_law_figure_is_typed_into_python() -> None:
    """The statutory figures live in data/: no $100,000 (the ISO limit, the Tax Table ceiling) in
    the code, and no literal count of years or months handed to the date arithmetic (the ISO term
    and window, the holding periods)."""
    root = Path(__file__).resolve().parents[1]
    found = []
    # planner/limits.py holds the bounds of input numbers (a price of at most $100,000 a share),
    # not figures of law.
    paths = [*root.glob("models/**/*.py"), *root.glob("planner/**/*.py")]
    for path in sorted(p for p in paths if p.name != "limits.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '')}"
            if isinstance(node, ast.Constant) and type(node.value) in (int, float):
                if node.value == 100_000:
                    found.append(f"{where}: {node.value}")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
                "add_years",
                "add_months",
            ):
                steps = node.args[1:2] + [k.value for k in node.keywords]
                if any(isinstance(a, ast.Constant) for a in steps):
                    found.append(f"{where}: {node.func.id} by a literal")
    assert found == []
