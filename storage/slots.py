"""Managing keyslots while the store is open (the data key is in memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import AuthenticationFailed, StoreError
from storage.crypto import UnwrapFailed
from storage.keyfile import KeyData, make_slot, slot_private_key, user_slot

if TYPE_CHECKING:
    from storage.store import SqlStore


class SqlKeySlots:
    """Implements ``core.ports.KeySlots``: every change is one atomic rewrite of the sidecar."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def _new_slot(self, data: KeyData, slot: str, secret: str) -> KeyData:
        key_id, key = self._store.data_key
        if data["data_keys"] != [key_id]:
            raise StoreError("store.rekeyed_elsewhere")
        return make_slot(self._store.store_id, slot, secret, {key_id: key})

    def add(self, name: str, password: str) -> None:
        with self._store.keyfile.update() as data:
            slot = user_slot(name)
            if slot in data["slots"]:
                raise StoreError("store.slot_exists", name=name)
            data["slots"][slot] = self._new_slot(data, slot, password)

    def reset(self, name: str, password: str) -> None:
        with self._store.keyfile.update() as data:
            slot = user_slot(name)
            data["slots"][slot] = self._new_slot(data, slot, password)

    def change(self, name: str, old_password: str, new_password: str) -> None:
        with self._store.keyfile.update() as data:
            slot = user_slot(name)
            current = data["slots"].get(slot)
            if current is None:
                raise AuthenticationFailed("auth.failed")
            try:
                slot_private_key(self._store.store_id, slot, current, old_password)
            except UnwrapFailed:
                raise AuthenticationFailed("auth.failed") from None
            data["slots"][slot] = self._new_slot(data, slot, new_password)

    def remove(self, name: str) -> None:
        with self._store.keyfile.update() as data:
            data["slots"].pop(user_slot(name), None)

    def names(self) -> list[str]:
        slots = self._store.keyfile.read()["slots"]
        return sorted(s.removeprefix("user:") for s in slots if s.startswith("user:"))
