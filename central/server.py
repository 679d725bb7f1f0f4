"""The HTTPS server: uvicorn with mutual TLS 1.3 and the client certificate handed to the app.

The server presents CONF/server.pem, trusts only CONF/ca.pem for client certificates and asks
for one on every connection (``CERT_OPTIONAL``: enrollment works before a terminal has one; a
certificate from another CA fails the handshake). uvicorn does not expose the peer certificate,
so ``CertH11Protocol`` reads it from the TLS object and puts it into each request's scope as
the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from central.app import create_app
from central.config import CentralDir
from central.service import CentralService

ASGIApp = Callable[..., Any]


def with_client_certificate(app: ASGIApp, pem: str | None) -> ASGIApp:
    """``app`` with this connection's client certificate (or none) set on every request."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = {"client_cert_chain": [pem] if pem else []}
            scope = {**scope, "extensions": extensions}
        await app(scope, receive, send)

    return wrapped


class CertH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        pem = ssl.DER_cert_to_PEM_cert(der) if der else None
        self.app = with_client_certificate(self.app, pem)


class TLS13Config(uvicorn.Config):
    def load(self) -> None:
        super().load()
        if self.ssl is None:  # pragma: no cover - always configured with certificates
            raise RuntimeError("TLS is required")
        self.ssl.minimum_version = ssl.TLSVersion.TLSv1_3


class AnnouncingServer(uvicorn.Server):
    """Calls ``ready`` with the URL once the socket listens (the port may have been 0)."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[str], None]) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        self._ready(f"https://{shown}:{port}")

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Shut down gracefully and return (uvicorn would re-raise the signal afterwards and
        end the process before the database is closed)."""
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def make_config(app: ASGIApp, conf: CentralDir, host: str, port: int) -> TLS13Config:
    return TLS13Config(
        app,
        host=host,
        port=port,
        http=CertH11Protocol,
        ws="none",
        lifespan="off",
        ssl_certfile=str(conf.file("server.pem")),
        ssl_keyfile=str(conf.file("server.key")),
        ssl_ca_certs=str(conf.file("ca.pem")),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def serve(
    conf: CentralDir,
    host: str,
    port: int,
    ready: Callable[[str], None],
    db_url: str | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; the database is closed on the way out."""
    service = CentralService.open(conf, db_url)
    try:
        server = AnnouncingServer(make_config(create_app(service), conf, host, port), ready)
        server.run()
    finally:
        service.close()
