"""One catalogue: both languages have the same keys, and every key the code uses exists."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from core.audit import Action
from core.changes import ChangeKind
from core.i18n import catalogue
from core.roles import Permission, Role
from core.terminal import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"^[a-z_]+\.[a-z0-9_]*[a-z0-9](\.[a-z0-9_]*[a-z0-9])*$")
ENUM_VALUES = (
    {a.value for a in Action} | {p.value for p in Permission} | {k.value for k in ChangeKind}
)


def test_both_languages_have_the_same_keys() -> None:
    ja, en = catalogue("ja"), catalogue("en")
    assert ja.message_keys() - en.message_keys() == set()
    assert en.message_keys() - ja.message_keys() == set()


def test_both_languages_use_the_same_parameters() -> None:
    ja, en = catalogue("ja"), catalogue("en")
    formatter = string.Formatter()
    for key in ja.message_keys():
        fields_ja = {f for _, f, _, _ in formatter.parse(ja(key, **{})) if f}
        fields_en = {f for _, f, _, _ in formatter.parse(en(key, **{})) if f}
        assert fields_ja == fields_en, key


def keys_in_source() -> set[str]:
    sections = {k.split(".")[0] for k in catalogue("ja").message_keys()}
    found: set[str] = set()
    for folder in ("core", "storage", "cli", "tui"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and KEY.match(node.value)
                    and node.value.split(".")[0] in sections
                    and node.value not in ENUM_VALUES
                ):
                    found.add(node.value)
    return found


def test_every_key_in_the_source_exists() -> None:
    missing = sorted(k for k in keys_in_source() if not catalogue("ja").has(k))
    assert missing == []


def test_every_action_role_permission_and_setting_has_a_label() -> None:
    ja = catalogue("ja")
    wanted = (
        {f"action.{a.value}" for a in Action}
        | {f"perm.{p.value}" for p in Permission}
        | {f"role.{r.value}" for r in Role}
        | {spec.label_key for spec in SETTINGS.values()}
    )
    assert sorted(k for k in wanted if not ja.has(k)) == []
