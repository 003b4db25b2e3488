"""Destinations: one small module per platform behind one interface (base.Destination)."""
from engine.activation.destinations.base import BatchContext, BatchResult, Destination, ErasureContext
from engine.activation.destinations.google import GoogleCustomerMatch
from engine.activation.destinations.hubspot import HubSpotList
from engine.activation.destinations.klaviyo import KlaviyoList
from engine.activation.destinations.linkedin import LinkedInSegment
from engine.activation.destinations.meta import MetaCustomAudience
from engine.activation.destinations.sandbox import Sandbox
from engine.activation.destinations.webhook import Webhook

KINDS: dict[str, type[Destination]] = {
    cls.kind: cls for cls in (MetaCustomAudience, GoogleCustomerMatch, KlaviyoList, HubSpotList, LinkedInSegment,
                              Webhook, Sandbox)
}

__all__ = ["KINDS", "BatchContext", "BatchResult", "Destination", "ErasureContext"]
