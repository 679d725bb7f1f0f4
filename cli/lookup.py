"""``sesshu lookup`` and ``sesshu show``: find residents and show one person."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.change import change_json
from cli.context import Secrets, acting, acting_as, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.change_text import summary_lines
from core.person import PersonView, ResidentSummary
from core.search import DEFAULT_LIMIT, SearchCriteria
from core.services.lookup import LookupService


def _summary_json(r: ResidentSummary) -> dict[str, object]:
    return {
        "atena": r.atena,
        "name": r.name,
        "kana": r.kana,
        "birth": r.birth.isoformat(),
        "sex": r.sex.value,
        "address": r.address,
        "status": r.status.value,
    }


def lookup(
    acting_user: AsOption,
    atena: Annotated[str | None, typer.Option("--atena", help="宛名番号, exact")] = None,
    mynumber: Annotated[
        str | None, typer.Option("--mynumber", help="個人番号; '-' reads it from stdin")
    ] = None,
    kana: Annotated[str | None, typer.Option("--kana", help="カナ, exact or prefix")] = None,
    name: Annotated[str | None, typer.Option("--name", help="氏名 fragment")] = None,
    variants: Annotated[bool, typer.Option("--variants", help="髙 = 高, 﨑 = 崎 …")] = False,
    loose: Annotated[bool, typer.Option("--loose", help="ignore voicing and small kana")] = False,
    birth: Annotated[str | None, typer.Option("--birth", help="H2.1.1, 1990-01, 平成2年 …")] = None,
    address: Annotated[str | None, typer.Option("--address", help="address fragment")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="M | F")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="resident | moved_out | deceased")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = DEFAULT_LIMIT,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Search residents by any combination of criteria (audited)."""
    t = state().t
    secrets = Secrets(password_stdin, t)
    password = secrets.next("field.password")
    if mynumber == "-":
        mynumber = secrets.next("field.mynumber")
    criteria = SearchCriteria(
        atena=atena,
        mynumber=mynumber,
        kana=kana,
        name=name,
        variants=variants,
        loose=loose,
        birth=birth,
        address=address,
        sex=sex,
        status=status,
        limit=limit,
    )
    with acting_as(acting_user, password) as session:
        result = LookupService(session.ctx).search(criteria)
    if as_json:
        emit_json(
            {
                "results": [_summary_json(r) for r in result.residents],
                "truncated": result.truncated,
            }
        )
        return
    for r in result.residents:
        address_text = r.address if r.address is not None else t("lookup.address_protected")
        say(
            f"{r.atena}  {r.name}  {r.kana}  {r.birth}  {t(f'sex.{r.sex.value}')}  "
            f"{t(f'status.{r.status.value}')}  {address_text}"
        )
    if not result.residents:
        say(t("lookup.none"))
    if result.truncated:
        say(t("lookup.narrow", limit=len(result.residents)))


def person_json(view: PersonView) -> dict[str, object]:
    r = view.resident
    return {
        "atena": r.atena,
        "name": r.name,
        "kana": r.kana,
        "birth": r.birth.isoformat(),
        "birth_wareki": view.birth_wareki,
        "age": view.age,
        "fiscal_year_end_age": view.fiscal_year_end_age,
        "sex": r.sex.value,
        "postal": None if view.address_protected else r.postal,
        "address": view.address,
        "address_protected": view.address_protected,
        "household": r.household,
        "relation": r.relation,
        "status": r.status.value,
        "status_date": r.status_date.isoformat() if r.status_date else None,
        "dv_flag": r.dv_flag,
        "no_auto_answer": r.no_auto_answer,
        "guardian": r.guardian,
        "mynumber": view.mynumber_masked if view.has_mynumber else None,
        "vaccinations": [
            {
                "id": v.id,
                "vaccine": v.vaccine,
                "vaccine_name": v.vaccine_name,
                "dose": v.dose,
                "date": v.date.isoformat() if v.date else None,
                "date_unknown": v.date_unknown,
                "lot": v.lot,
                "maker": v.maker,
                "institution": v.institution,
                "institution_name": v.institution_name,
                "physician": v.physician,
                "physician_name": v.physician_name,
                "status": v.status.value,
            }
            for history in view.histories
            for v in history.records
        ],
        "pending_changes": [change_json(c) for c in view.pending_changes],
    }


def show(
    atena: str,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show one person: basic items, flags, masked 個人番号 and vaccination history (audited)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        view = LookupService(session.ctx).open(atena)
    if as_json:
        emit_json(person_json(view))
        return
    r = view.resident
    address = view.address if view.address is not None else t("lookup.address_protected")
    say(f"{r.atena}  {r.name}（{r.kana}）")
    say(
        f"  {t('person.birth')}: {view.birth_wareki}（{r.birth}） "
        f"{t('person.age', age=view.age, fy_age=view.fiscal_year_end_age)}"
    )
    say(
        f"  {t('person.sex')}: {t(f'sex.{r.sex.value}')}  "
        f"{t('person.status')}: {t(f'status.{r.status.value}')}"
    )
    say(f"  {t('person.address')}: {address}")
    say(f"  {t('person.mynumber')}: {view.mynumber_masked}")
    for history in view.histories:
        say(f"  {history.vaccine_name or history.vaccine}")
        for v in history.records:
            pending = f" [{t('person.pending')}]" if v.status.value == "pending" else ""
            if (change := view.pending_on(v.id)) is not None:
                pending += f" [{t('change.pending_mark', change=change.id)}]"
            say(
                f"    {v.dose or '-'}  {v.date or t('person.date_unknown')}  {v.lot or ''}  "
                f"{v.institution_name or v.institution or ''}  {v.physician_name or ''}{pending}"
            )
    for change in view.pending_changes:
        for line in summary_lines(t, change):
            say(f"  {line}")
