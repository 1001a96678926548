from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Local stand-ins for the tools' APIs; no models, only the `sandbox` command."""

    name = "sandbox"
    verbose_name = "Sandbox"
