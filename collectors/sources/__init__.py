"""One adapter per upstream format; ``adapter_for`` picks it from a source's settings."""

from __future__ import annotations

from collectors.config import SourceKind, SourceSettings
from collectors.sources.agency_json import AgencyJsonAdapter
from collectors.sources.base import Adapter, Fetched, Parsed, PayloadError
from collectors.sources.portal import PortalAdapter


def adapter_for(settings: SourceSettings) -> Adapter:
    if settings.kind is SourceKind.AGENCY_JSON:
        return AgencyJsonAdapter(settings)
    if settings.kind is SourceKind.PORTAL:
        return PortalAdapter(settings)
    from collectors.sources.sdmx import SdmxAdapter  # pysdmx is an optional extra: import on demand

    return SdmxAdapter(settings)


__all__ = ["Adapter", "Fetched", "Parsed", "PayloadError", "adapter_for"]
