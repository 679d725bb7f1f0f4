"""Reading and changing terminal settings."""

from __future__ import annotations

from core.audit import Action
from core.ports import OpenStore
from core.roles import Permission
from core.services.context import ServiceContext
from core.terminal import SETTINGS, setting_spec


def read_settings(store: OpenStore) -> dict[str, str]:
    """Current value of every setting, defaults filled in (not personal data; no audit)."""
    with store.reader() as uow:
        stored = uow.settings.all()
    return {name: stored.get(spec.key, spec.default) for name, spec in SETTINGS.items()}


def idle_lock_seconds(store: OpenStore) -> float:
    return float(read_settings(store)["idle-lock"]) * 60


def change_setting(ctx: ServiceContext, name: str, value: str) -> str:
    spec = setting_spec(name)
    ctx.require(Permission.TERMINAL_CONFIGURE, f"setting:{name}")
    parsed = spec.parse(value)
    with ctx.store.transaction() as uow:
        old = uow.settings.get(spec.key) or spec.default
        uow.settings.put(spec.key, parsed)
        ctx.record(uow, Action.TERMINAL_SETTING_CHANGED, f"setting:{name}", old=old, new=parsed)
    return parsed
