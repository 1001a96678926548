"""Zendesk Support users and organizations, with ticket facts derived for users."""

from .provider import OBJECTS, ZendeskProvider

__all__ = ["OBJECTS", "ZendeskProvider"]
