"""Template tags of the connection pages."""

from django import template

from connections.webhooks import WEBHOOK_PROVIDERS, has_webhook_secret, webhook_endpoint_url

register = template.Library()


@register.simple_tag
def webhook_settings(connection):
    """
    Return what the connection page shows about webhooks, or None when the tool's webhooks are not accepted.

    The dict contains `endpoint_url` and `has_secret`, never the secret itself.
    """
    if connection.provider not in WEBHOOK_PROVIDERS:
        return None
    return {"endpoint_url": webhook_endpoint_url(connection), "has_secret": has_webhook_secret(connection)}
