"""
The registry of providers: the one place that lists the tools Oneprofile connects to.

Adding a tool means writing one module here with a Provider subclass and
listing the module below.
"""

from importlib import import_module

PROVIDER_MODULES = [
    "connections.providers.stripe",
    "connections.providers.hubspot",
    "connections.providers.zendesk",
    "connections.providers.mailchimp",
]

_registry = {}
_loaded = False


def register(provider_class):
    """Register a Provider subclass under its name; used as a class decorator."""
    _registry[provider_class.name] = provider_class
    return provider_class


def _load():
    global _loaded
    if not _loaded:
        for module in PROVIDER_MODULES:
            import_module(module)
        _loaded = True
    return _registry


def get_provider_class(name):
    """Return the Provider subclass registered as `name`; raises KeyError naming the known ones."""
    registry = _load()
    try:
        return registry[name]
    except KeyError:
        raise KeyError(
            f"Unknown provider {name!r}: known providers are {', '.join(sorted(registry))}."
        ) from None


def all_providers():
    """Return every registered Provider subclass, ordered by label."""
    return sorted(_load().values(), key=lambda provider: provider.label)


def provider_choices():
    return [(provider.name, provider.label) for provider in all_providers()]
