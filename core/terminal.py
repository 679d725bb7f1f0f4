"""Terminal settings (端末設定) an administrator may change, with their validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.accounts import DEFAULT_IDLE_LOCK_MINUTES
from core.errors import InvalidValue


@dataclass(frozen=True)
class SettingSpec:
    key: str  # the key in the store
    name: str  # the name on the command line, e.g. "idle-lock"
    default: str
    parse: Callable[[str], str]
    label_key: str


def _int_between(low: int, high: int, field_name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            value = int(text.strip())
        except ValueError:
            raise InvalidValue(field_name, "setting.int_range", low=low, high=high) from None
        if not low <= value <= high:
            raise InvalidValue(field_name, "setting.int_range", low=low, high=high)
        return str(value)

    return parse


def _yes_no(field_name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        word = text.strip().lower()
        if word in ("yes", "on", "true", "1", "はい"):
            return "yes"
        if word in ("no", "off", "false", "0", "いいえ"):
            return "no"
        raise InvalidValue(field_name, "setting.yes_no")

    return parse


def _absolute_path_or_empty(field_name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        if value and not PurePosixPath(value).is_absolute():
            raise InvalidValue(field_name, "setting.absolute_path")
        if ".." in PurePosixPath(value).parts:
            raise InvalidValue(field_name, "setting.absolute_path")
        return value

    return parse


def _device_or_empty(field_name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        path = value.removeprefix("stdio:")
        if value and not (path.startswith("/") and ".." not in PurePosixPath(path).parts):
            raise InvalidValue(field_name, "setting.device")
        return value

    return parse


SETTINGS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec(
            "idle_lock_minutes",
            "idle-lock",
            str(DEFAULT_IDLE_LOCK_MINUTES),
            _int_between(1, 120, "idle-lock"),
            "setting.idle_lock",
        ),
        SettingSpec(
            "daily_lookup_threshold",
            "lookup-threshold",
            "200",
            _int_between(10, 100_000, "lookup-threshold"),
            "setting.lookup_threshold",
        ),
        SettingSpec(
            "reconcile_by_second_keyer",
            "reconcile-by-second-keyer",
            "no",
            _yes_no("reconcile-by-second-keyer"),
            "setting.reconcile_by_second_keyer",
        ),
        SettingSpec("export_enabled", "export", "yes", _yes_no("export"), "setting.export"),
        SettingSpec(
            "export_spool",
            "export-spool",
            "",
            _absolute_path_or_empty("export-spool"),
            "setting.export_spool",
        ),
        SettingSpec(
            "export_device",
            "export-device",
            "",
            _device_or_empty("export-device"),
            "setting.export_device",
        ),
    )
}


def setting_spec(name: str) -> SettingSpec:
    spec = SETTINGS.get(name)
    if spec is None:
        raise InvalidValue("setting", "setting.unknown", accepted=", ".join(sorted(SETTINGS)))
    return spec
