"""Core services wired to the export adapter of an open store, for the CLI and the TUI alike."""

from __future__ import annotations

from core.services.context import ServiceContext
from core.services.exports import ExportService, MediaService
from core.services.provision import ProvisionService
from exports.writer import exporter_for


def provision_service(ctx: ServiceContext) -> ProvisionService:
    return ProvisionService(ctx, exporter_for(ctx.store))


def export_service(ctx: ServiceContext) -> ExportService:
    """Provision exports pass the case gate of the provision service."""
    return provision_service(ctx).exports


def media_service(ctx: ServiceContext) -> MediaService:
    return MediaService(ctx)
