from django.urls import path

from connections import webhooks

app_name = "webhooks"

urlpatterns = [
    # Stripe calls this without a session. The connection's public id in the
    # address selects the signing secret, and the signature authenticates the
    # request. The id is matched as text, so a malformed id gets the same 404
    # as an unknown one.
    path("webhooks/stripe/<str:connection_id>/", webhooks.stripe_webhook, name="stripe"),
    path(
        "w/<uuid:workspace_id>/connections/<uuid:connection_id>/webhook-secret/",
        webhooks.webhook_secret,
        name="secret",
    ),
]
