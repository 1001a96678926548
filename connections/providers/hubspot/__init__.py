"""HubSpot contacts and companies; the provider registers itself under the name "hubspot"."""

from .provider import HubSpotProvider
from .wire import to_wire

__all__ = ["HubSpotProvider", "to_wire"]
