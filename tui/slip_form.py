"""What the slip screens share: field order, master type-ahead, live checks, safe display.

Everything a keying form shows comes from the keyer's own typing, the batch, the masters or
the registry — never from the other pass — so nothing here takes a pass's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date

from rich.text import Text
from textual.suggester import Suggester

from core.errors import Issue, ValidationFailed
from core.i18n import Catalogue
from core.japanese.wareki import format_wareki
from core.masters import MasterEntry, MasterKind, Masters, fold
from core.residents import Resident
from core.services.batches import BatchService
from core.slips import FIELDS

FORM: tuple[str, ...] = ("slip", *FIELDS)  # 伝票番号 first, then the slip's own order
MASTER_FIELDS: dict[str, MasterKind] = {
    "vaccine": MasterKind.VACCINE,
    "maker": MasterKind.MAKER,
    "institution": MasterKind.INSTITUTION,
    "physician": MasterKind.PHYSICIAN,
}
ERROR_STYLE = "bold red"
WARNING_STYLE = "yellow"


class MasterSuggester(Suggester):
    """Inline completion from a master (→ accepts it): a code, or else a name that begins
    with what was typed (ﾌｧｲ → ファイザー) where the name stands for its code when saved.
    """

    def __init__(self, choices: Callable[[str], list[MasterEntry]], *, names: bool = True) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self._choices = choices
        self._names = names

    async def get_suggestion(self, value: str) -> str | None:
        wanted = fold(value)
        entries = self._choices(value)
        for entry in entries:
            if fold(entry.code).startswith(wanted):
                return entry.code
        if self._names:
            for entry in entries:
                if fold(entry.name).startswith(wanted):
                    return entry.name
        return None


def entry_name(t: Catalogue, entry: MasterEntry) -> str:
    return entry.name_en if t.language == "en" and entry.name_en else entry.name


def choices_text(t: Catalogue, entries: list[MasterEntry]) -> Text:
    """The type-ahead line under the form: ``PCV 小児用肺炎球菌 ／ HIB ヒブ``."""
    if not entries:
        return Text(t("keying.no_choices"), style="dim")
    text = Text(t("keying.choices") + " ", style="bold")
    for index, entry in enumerate(entries):
        if index:
            text.append(" ／ ", style="dim")
        text.append(entry.code, style="bold")
        text.append(" " + entry_name(t, entry))
    return text


def live_issues(service: BatchService, raw: Mapping[str, object]) -> list[Issue]:
    """Every problem the form has now, even while some fields cannot be read yet.

    A field that fails to normalise is reported, then left out so the checks that span
    fields (a date before birth, a dose out of range) still run on the rest.
    """
    try:
        return service.check(raw)[2]
    except ValidationFailed as failed:
        unreadable = {i.field for i in failed.issues}
        rest = {k: v for k, v in raw.items() if k not in unreadable}
        if "slip" in unreadable:
            rest["slip"] = "0"
        try:
            more = service.check(rest)[2]
        except ValidationFailed:
            more = []
        return list(failed.issues) + [i for i in more if i.field not in unreadable]


def issue_text(t: Catalogue, issues: list[Issue]) -> Text:
    """Errors in red with ✖, warnings in yellow with ⚠: the keyer can tell them apart."""
    text = Text()
    for index, issue in enumerate(issues):
        if index:
            text.append("  ")
        error = issue.severity == "error"
        text.append(
            ("✖ " if error else "⚠ ") + t.issue(replace(issue, field="")),
            style=ERROR_STYLE if error else WARNING_STYLE,
        )
    return text


def dates_text(day: date) -> str:
    """和暦 and 西暦 together: 令和元年7月10日（2019-07-10）."""
    return f"{format_wareki(day)}（{day.isoformat()}）"


def person_text(t: Catalogue, resident: Resident) -> Text:
    """Name, kana and birth date of the person a 宛名番号 names; literal, never markup."""
    text = Text("✔ ", style="green")
    text.append(resident.name, style="bold")
    text.append(f"（{resident.kana}）  ")
    text.append(t("keying.born", birth=dates_text(resident.birth)))
    if resident.status.value != "resident":
        text.append("  " + t(f"status.{resident.status.value}"), style="bold red")
    return text


def value_text(t: Catalogue, masters: Masters, field: str, value: str | None) -> Text:
    """A canonical slip value as a reconciler reads it: codes with names, dates in 和暦."""
    if value is None:
        return Text(t("reconcile_screen.blank"), style="dim italic")
    text = Text(value, style="bold")
    kind = MASTER_FIELDS.get(field)
    entry = masters.get(kind, value) if kind is not None else None
    if entry is not None:
        text.append(f"（{entry_name(t, entry)}）")
    if field == "date":
        text.append(f"（{format_wareki(date.fromisoformat(value))}）")
    return text
