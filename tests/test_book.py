"""Books: the table format and the scenario format give the same scenarios, per-client errors
never stop a book, and the vectorized crossover of a book agrees with the exact conversion."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from planner.book import read_book
from planner.book_crossover import book_crossover, inputs_from_scenarios, inputs_from_tables
from planner.cli import cli
from planner.errors import InputError
from planner.household_taxes import compute_crossover
from planner.scenario import load_scenario, scenario_json_schema

ROOT = Path(__file__).resolve().parents[1]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_book = _load_script("make_book")


def write_book(folder: Path, clients: pd.DataFrame, grants: pd.DataFrame, csv: bool = False):
    make_book.write_book(clients, grants, folder, csv)
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clients, grants = make_book.make_book(200, seed=3, horizon=3, grants=3)
    return write_book(tmp_path_factory.mktemp("book"), clients, grants)


def test_generated_book_validates_and_csv_equals_parquet(generated: Path, tmp_path: Path) -> None:
    book = read_book(generated)
    assert len(book) == 200 and book.kind == "tables"
    scenarios = [c.validated().scenario for c in book.clients]  # every generated client is valid
    clients, grants = make_book.make_book(200, seed=3, horizon=3, grants=3)
    csv = read_book(write_book(tmp_path, clients, grants, csv=True))
    assert [c.validated().scenario for c in csv.clients] == scenarios
    kinds = {o.kind for s in scenarios for o in s.options}
    assert kinds == {"iso", "nso"}
    assert any(s.lots for s in scenarios) and any(s.windows for s in scenarios)
    assert any(o.id.endswith(":nso") for s in scenarios for o in s.options)  # $100k limit


def test_make_book_is_reproducible() -> None:
    a = make_book.make_book(30, seed=7)
    b = make_book.make_book(30, seed=7)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])


def test_table_client_equals_its_scenario_file(tmp_path: Path) -> None:
    """scenarios/plan-tender-offer.yaml written as book tables is the same scenario."""
    yaml_path = ROOT / "scenarios" / "plan-tender-offer.yaml"
    expected = load_scenario(yaml_path)
    clients = pd.DataFrame([{
        "client_id": "t1", "description": expected.description, "filing_status": "hoh",
        "start_cash": 60000, "cash_floor": 10000, "amt_credit_carryforward": 5200,
        "first_year": 2026, "years": 3, "wages": 240000, "salt": 18000,
        "mortgage_interest": 15000, "savings": 30000, "fmv": 20,
        "tender_date": "2027-06-15", "tender_price": 28, "tender_max_shares": 5000,
    }])  # fmt: skip
    grants = pd.DataFrame([
        {"client_id": "t1", "record": "grant", "id": "early", "type": "iso",
         "grant_date": "2021-04-01", "strike": 1.5, "shares": 24000, "cliff_months": 12,
         "vest_months": 48},
        {"client_id": "t1", "record": "lot", "id": "early-2024", "grant_id": "early",
         "type": "iso", "shares": 4000, "exercise_date": "2024-12-10", "amt_basis": 8},
    ])  # fmt: skip
    years = pd.DataFrame([
        {"client_id": "t1", "year": 2027, "fmv": 22, "exercise_date": "2027-05-15"},
        {"client_id": "t1", "year": 2028, "fmv": 24},
    ])  # fmt: skip
    clients.to_csv(tmp_path / "clients.csv", index=False)
    grants.to_csv(tmp_path / "grants.csv", index=False)
    years.to_csv(tmp_path / "years.csv", index=False)
    (client,) = read_book(tmp_path).clients
    assert client.validated().scenario == expected


def test_folder_of_scenario_files(tmp_path: Path) -> None:
    for p in (ROOT / "scenarios").glob("plan-*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "broken.yaml").write_text("description: x\nhousehold: {filing_status: single}\n")
    book = read_book(tmp_path)
    assert book.kind == "scenarios"
    assert [c.client_id for c in book.clients] == sorted(p.stem for p in tmp_path.glob("*.yaml"))
    good = {c.client_id: c.validated().scenario for c in book.clients if c.client_id != "broken"}
    assert good["plan-departure"] == load_scenario(ROOT / "scenarios" / "plan-departure.yaml")
    broken = next(c for c in book.clients if c.client_id == "broken")
    with pytest.raises(InputError, match=r"broken\.yaml: household\.start_cash: required"):
        broken.validated()


def _tiny(tmp_path: Path, clients: list[dict], grants: list[dict]) -> Path:
    base = {"filing_status": "single", "start_cash": 100000, "first_year": 2026, "years": 2,
            "wages": 250000, "fmv": 20}  # fmt: skip
    pd.DataFrame([{**base, **c} for c in clients]).to_csv(tmp_path / "clients.csv", index=False)
    g0 = {"record": "grant", "type": "iso", "grant_date": "2022-01-01", "strike": 2,
          "shares": 10000, "cliff_months": 12, "vest_months": 48}  # fmt: skip
    pd.DataFrame([{**g0, **g} for g in grants]).to_csv(tmp_path / "grants.csv", index=False)
    return tmp_path


def test_per_client_errors_name_the_row(tmp_path: Path) -> None:
    book = read_book(_tiny(tmp_path, [
        {"client_id": "ok"}, {"client_id": "bad-cell"}, {"client_id": "dup"},
        {"client_id": "dup"}, {"client_id": "lotcol"}, {"client_id": "rec"},
    ], [
        {"client_id": "ok", "id": "g1"},
        {"client_id": "bad-cell", "id": "g1"},
        {"client_id": "bad-cell", "id": "g2", "strike": "abc"},
        {"client_id": "lotcol", "id": "g1", "amt_basis": 3},
        {"client_id": "rec", "id": "g1", "record": "option"},
        {"client_id": "ghost", "id": "g1"},
    ]))  # fmt: skip
    by_id = {c.client_id: c for c in book.clients}
    assert sorted(by_id) == ["bad-cell", "dup", "ghost", "lotcol", "ok", "rec"]
    by_id["ok"].validated()
    with pytest.raises(InputError) as exc:
        by_id["bad-cell"].validated()
    assert "grants[1] (grants.csv row 3).strike: expected a number, got 'abc'" in str(exc.value)
    assert by_id["dup"].error == "clients.csv row 4: client_id 'dup' is also row 3 of clients.csv"
    assert by_id["lotcol"].error == "grants.csv row 4: column 'amt_basis' does not apply to a grant"
    assert "record: expected grant or lot" in by_id["rec"].error
    assert "no client 'ghost' in the clients table" in by_id["ghost"].error


def test_a_malformed_csv_row_fails_its_client_only(tmp_path: Path) -> None:
    folder = _tiny(tmp_path, [{"client_id": "a"}, {"client_id": "b"}, {"client_id": "c"}], [
        {"client_id": "a", "id": "g1"}, {"client_id": "b", "id": "g1"},
        {"client_id": "c", "id": "g1"}, {"client_id": "c", "id": "g2", "strike": "x"},
    ])  # fmt: skip
    path = folder / "grants.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2] + ",shifted"  # b's grant: one field too many
    path.write_text("\n".join(lines) + "\n")
    book = read_book(folder)
    by_id = {c.client_id: c for c in book.clients}
    assert by_id["b"].error == "grants.csv row 2: 10 fields where the header has 9 columns"
    by_id["a"].validated()
    with pytest.raises(InputError, match=r"grants\[1\] \(grants.csv row 4\)\.strike"):
        by_id["c"].validated()  # rows after the malformed one keep their numbers
    out = book_crossover(read_book(folder, documents=False)).set_index("client_id")
    assert out.loc["b", "error"] == by_id["b"].error and out.loc["a", "error"] == ""


def test_book_level_errors(tmp_path: Path) -> None:
    folder = _tiny(tmp_path, [{"client_id": "a", "wagez": 1}], [{"client_id": "a", "id": "g1"}])
    with pytest.raises(InputError, match=r"unknown column 'wagez' \(did you mean 'wages'\?\)"):
        read_book(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no clients table"):
        read_book(empty)


def test_schema_book_and_default_unchanged() -> None:
    runner = CliRunner()
    default = runner.invoke(cli, ["schema"])
    assert json.loads(default.output) == scenario_json_schema()
    book = json.loads(runner.invoke(cli, ["schema", "--book"]).output)
    assert set(book["tables"]) == {"clients", "grants", "years"}
    cols = {c["name"]: c for c in book["tables"]["clients"]["columns"]}
    assert cols["start_cash"]["scenario_field"] == "household.start_cash"
    assert cols["start_cash"]["description"].startswith("Cash available")
    assert all(c["description"] for t in book["tables"].values() for c in t["columns"])


# ----------------------------------------------------------------------------------------------
# Crossover on a book
# ----------------------------------------------------------------------------------------------


def _sorted(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return df.sort_values(key).reset_index(drop=True)


@pytest.mark.parametrize("year", [None, 2027])
def test_vectorized_inputs_equal_exact_conversion(generated: Path, year: int | None) -> None:
    """The book's tables read vectorized give the inputs of the full conversion of each client's
    scenario: households, and the ISO shares of models.grants (vesting, the $100,000 limit,
    earlier exercises, termination) run on all grant rows at once and on one grant at a time."""
    book = read_book(generated)
    house_v, iso_v, err_v = inputs_from_tables(book, year)
    house_e, iso_e, err_e = inputs_from_scenarios(book, year, None, None)
    assert err_v == err_e == {}
    cols = list(house_e.columns)
    pd.testing.assert_frame_equal(
        _sorted(house_v[cols], ["id"]), _sorted(house_e, ["id"]), check_dtype=False
    )
    pd.testing.assert_frame_equal(
        _sorted(iso_v, ["client_id", "grant_id"]),
        _sorted(iso_e, ["client_id", "grant_id"]),
        check_dtype=False,
    )
    assert len(iso_e) > 300


def test_book_crossover_matches_the_single_grant_crossover(generated: Path) -> None:
    out = book_crossover(read_book(generated, documents=False))
    assert len(out) == 200 and (out["error"] == "").all()
    assert (out["amt"] <= 0.005).all()  # AMT-free, exactly re-computed
    house, iso, _ = inputs_from_tables(read_book(generated), None)
    single = iso.groupby("client_id").filter(lambda g: len(g) == 1)
    rows = house.merge(single, left_on="id", right_on="client_id").drop(
        columns=["client_id", "grant_id"]
    )
    direct = compute_crossover(rows)
    got = out.set_index("client_id").loc[direct["id"], "shares"].to_numpy()
    assert len(direct) > 20
    np.testing.assert_array_equal(got, direct["shares"].to_numpy())


def test_crossover_cli_on_a_book(generated: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["crossover", str(generated), "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "x.csv")
    assert len(out) == 200 and out["client_id"].is_unique
    bad = CliRunner().invoke(cli, ["crossover", str(generated), "--wages", "1"])
    assert bad.exit_code != 0
