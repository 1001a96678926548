"""Mailchimp audience members, with their merge fields, tags and subscription status."""

from .provider import MailchimpProvider

__all__ = ["MailchimpProvider"]
