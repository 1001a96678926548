"""Stripe customers, with billing facts derived from subscriptions and invoices."""

from .provider import STRIPE_VERSION, StripeProvider

__all__ = ["STRIPE_VERSION", "StripeProvider"]
