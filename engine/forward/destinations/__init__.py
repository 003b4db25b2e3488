"""Forwarding destinations: one small module per platform behind one interface
(base.ConversionDestination). Adding one is a new module here plus its test (CONTRIBUTING.md)."""
from engine.forward.destinations.base import ConversionDestination
from engine.forward.destinations.google import GoogleConversions
from engine.forward.destinations.meta import MetaConversions

KINDS: dict[str, type[ConversionDestination]] = {cls.kind: cls for cls in (MetaConversions, GoogleConversions)}


def platform(dest: dict, token: str | None = None) -> ConversionDestination:
    """The destination's platform, from engine.forward.config.get_destination's dict (a sandbox
    appears as the platform it previews) and the access token requests carry."""
    return KINDS[dest["kind"]](dest["name"], dest["settings"], {"access_token": token} if token else {})


__all__ = ["KINDS", "ConversionDestination", "platform"]
