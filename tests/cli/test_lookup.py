"""``sesshu lookup`` and ``sesshu show``: the JSON contract of the lookups issue."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli
from tests.conftest import PASSWORD
from tests.people import CHILD, MYNUMBERS

PW = PASSWORD + "\n"


def test_lookup_json(cli: Cli, people_path: Path) -> None:
    out = cli(
        "lookup",
        "--as",
        "op1",
        "--kana",
        "ﾔﾏﾀﾞ",
        "--birth",
        "H2.1.1",
        "--password-stdin",
        "--json",
        stdin=PW,
        store=people_path,
    )
    assert out.code == 0, out.stderr
    assert out.json() == {
        "results": [
            {
                "atena": "1000000001",
                "name": "山田　太郎",
                "kana": "ヤマダ　タロウ",
                "birth": "1990-01-01",
                "sex": "M",
                "address": "桜台一丁目1番1号",
                "status": "resident",
            }
        ],
        "truncated": False,
    }


def test_lookup_every_option(cli: Cli, people_path: Path) -> None:
    out = cli(
        "lookup",
        "--as",
        "op1",
        "--name",
        "高橋",
        "--variants",
        "--sex",
        "M",
        "--status",
        "resident",
        "--address",
        "桜台",
        "--limit",
        "1",
        "--password-stdin",
        "--json",
        stdin=PW,
        store=people_path,
    )
    document = out.json()
    assert len(document["results"]) == 1
    assert document["truncated"] is True
    loose = cli(
        "lookup",
        "--as",
        "op1",
        "--kana",
        "サワダチジミ",
        "--loose",
        "--password-stdin",
        "--json",
        stdin=PW,
        store=people_path,
    ).json()
    assert len(loose["results"]) == 2


def test_a_protected_address_is_null(cli: Cli, people_path: Path) -> None:
    out = cli(
        "lookup",
        "--as",
        "sup1",
        "--atena",
        "1000000015",
        "--password-stdin",
        "--json",
        stdin=PW,
        store=people_path,
    )
    assert out.json()["results"][0]["address"] is None


def test_mynumber_lookup_from_stdin_and_refusal(cli: Cli, people_path: Path) -> None:
    number = MYNUMBERS["1000000007"]
    ok = cli(
        "lookup",
        "--as",
        "op1",
        "--mynumber",
        "-",
        "--password-stdin",
        "--json",
        stdin=f"{PASSWORD}\n{number}\n",
        store=people_path,
    )
    assert [r["atena"] for r in ok.json()["results"]] == ["1000000007"]
    refused = cli(
        "--lang",
        "en",
        "lookup",
        "--as",
        "op2",
        "--mynumber",
        number,
        "--password-stdin",
        stdin=PW,
        store=people_path,
    )
    assert refused.code == 1
    assert refused.stderr == "This operation needs the 'use My Numbers' permission.\n"


def test_malformed_input_names_the_accepted_forms(cli: Cli, people_path: Path) -> None:
    out = cli(
        "--lang",
        "en",
        "lookup",
        "--as",
        "op1",
        "--birth",
        "平成31年5月1日",
        "--mynumber",
        "1234567890123",
        "--password-stdin",
        stdin=PW,
        store=people_path,
    )
    assert out.code == 1
    assert out.stderr.count("\n") == 1
    assert "平成 runs from 1989-01-08" in out.stderr
    assert "Enter 12 digits (you entered 13)" in out.stderr
    bad_date = cli(
        "--lang",
        "en",
        "lookup",
        "--as",
        "op1",
        "--birth",
        "yesterday",
        "--password-stdin",
        stdin=PW,
        store=people_path,
    )
    assert "H2.1.1" in bad_date.stderr


def test_names_with_brackets_are_printed_literally(cli: Cli, people_path: Path) -> None:
    out = cli(
        "lookup",
        "--as",
        "op1",
        "--name",
        "O'Brien",
        "--password-stdin",
        stdin=PW,
        store=people_path,
    )
    assert "O'Brien [red]Jr;[/]" in out.stdout
    assert "[bold]桜台３丁目４番５号;" in out.stdout


def test_show_json(cli: Cli, people_path: Path) -> None:
    out = cli(
        "show",
        CHILD.atena,
        "--as",
        "op1",
        "--password-stdin",
        "--json",
        stdin=PW,
        store=people_path,
    )
    assert out.code == 0, out.stderr
    person = out.json()
    assert person["atena"] == CHILD.atena
    assert person["birth"] == "2019-05-01"
    assert person["birth_wareki"] == "令和元年5月1日"
    assert person["mynumber"] == "●●●● ●●●● ●●●●"
    assert MYNUMBERS[CHILD.atena] not in out.stdout
    assert len(person["vaccinations"]) == 60
    assert set(person["vaccinations"][0]) >= {
        "vaccine",
        "dose",
        "date",
        "lot",
        "institution",
        "physician",
        "status",
    }


def test_show_of_a_protected_person_and_an_unknown_one(cli: Cli, people_path: Path) -> None:
    out = cli(
        "show",
        "1000000015",
        "--as",
        "op1",
        "--password-stdin",
        "--json",
        stdin=PW,
        store=people_path,
    ).json()
    assert out["address"] is None
    assert out["address_protected"] is True
    missing = cli(
        "--lang", "en", "show", "42", "--as", "op1", "--password-stdin", stdin=PW, store=people_path
    )
    assert missing.code == 1
    assert missing.stderr == "No resident with atena number 42.\n"


def test_an_administrator_cannot_look_up(cli: Cli, people_path: Path) -> None:
    out = cli(
        "lookup", "--as", "adm1", "--name", "山", "--password-stdin", stdin=PW, store=people_path
    )
    assert out.code == 1
