"""``HttpCentral``: the central system over HTTPS with mutual TLS 1.3 (implements CentralPort).

The CA and the client certificate come from the store (``sync_state``). ``ssl`` loads a
certificate chain only from files, so the certificate and the *encrypted* key are written into
a fresh private directory (0700), loaded with the password, and deleted at once.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from core.errors import SyncFailed
from core.ports import OpenStore
from core.sync import Conflict, Entry, PullPage, PushResult, TableTotal
from sync.wire import (
    WireError,
    parse_conflict,
    parse_pull,
    parse_push_result,
    parse_totals,
    push_json,
)

T = TypeVar("T")
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


def client_context(
    ca_pem: str, certificate_pem: str, key_pem: str, password: str
) -> ssl.SSLContext:
    """TLS 1.3 only, the central CA as the only trust anchor, hostname checked, our certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    with _private_dir() as folder:
        cert_file, key_file = folder / "cert.pem", folder / "key.pem"
        for path, text in ((cert_file, certificate_pem), (key_file, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_file, key_file, password=password.encode)
        except (ssl.SSLError, OSError) as error:
            raise SyncFailed("sync.credentials_unusable") from error
    return context


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sesshu-tls-"))  # mkdtemp makes it 0700
    try:
        yield folder
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


class HttpCentral:
    """One keep-alive connection to the central system for the length of a command."""

    def __init__(
        self,
        base_url: str,
        context: ssl.SSLContext | None = None,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(
            base_url=self.base_url,
            verify=context if context is not None else True,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            headers={"Accept": "application/json"},
        )
        # Pull reads one page ahead, so the central system's work and the transfer of page
        # n + 1 overlap with the terminal applying page n.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sesshu-pull")
        self._ahead: tuple[tuple[int, int], Future[PullPage]] | None = None

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead[1].cancel()
        self._reader.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> HttpCentral:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self._client.request(method, path, **options)
        except httpx.TimeoutException as error:
            raise SyncFailed("sync.timeout") from error
        except httpx.TransportError as error:
            raise SyncFailed("sync.unreachable") from error
        if response.status_code in (401, 403):
            raise SyncFailed("sync.refused")
        if response.status_code == 422:
            raise SyncFailed("sync.malformed")
        if response.status_code >= 400:
            raise SyncFailed("sync.server_error", status=response.status_code)
        try:
            return response.json()
        except ValueError as error:
            raise SyncFailed("sync.malformed") from error

    def push(self, terminal: str, entries: Sequence[Entry]) -> PushResult:
        doc = self._call("POST", "/v1/push", json=push_json(terminal, entries))
        return _parsed(parse_push_result, doc)

    def pull(self, cursor: int, limit: int) -> PullPage:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == (cursor, limit):
            page = ahead[1].result()
        else:
            if ahead is not None:
                ahead[1].cancel()
            page = self._fetch(cursor, limit)
        if page.more and page.next_cursor != cursor:
            following = (page.next_cursor, limit)
            self._ahead = (following, self._reader.submit(self._fetch, *following))
        return page

    def _fetch(self, cursor: int, limit: int) -> PullPage:
        doc = self._call("GET", "/v1/pull", params={"cursor": cursor, "limit": limit})
        return _parsed(parse_pull, doc)

    def conflicts(self) -> list[Conflict]:
        doc = self._call("GET", "/v1/conflicts")
        return _parsed(lambda d: [parse_conflict(c) for c in d["conflicts"]], doc)

    def totals(self) -> dict[str, TableTotal]:
        doc = self._call("GET", "/v1/compare")
        return _parsed(lambda d: parse_totals(d["tables"]), doc)


def _parsed(parse: Callable[[Any], T], doc: Any) -> T:
    """Parse an answer; anything not in the expected form is ``sync.malformed``."""
    try:
        return parse(doc)
    except (WireError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise SyncFailed("sync.malformed") from error


def central_for(store: OpenStore) -> HttpCentral | None:
    """The enrolled central system of this store, or None if the terminal is not enrolled."""
    with store.reader() as uow:
        state = uow.sync.state()
    return central_from_state(state)


def central_from_state(state: Mapping[str, str]) -> HttpCentral | None:
    needed = ("central", "ca_pem", "certificate_pem", "key_pem", "key_password")
    if any(name not in state for name in needed):
        return None
    context = client_context(
        state["ca_pem"], state["certificate_pem"], state["key_pem"], state["key_password"]
    )
    return HttpCentral(state["central"], context)
