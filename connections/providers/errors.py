"""The one exception family for every failed request to a tool's API."""

import re

from connections.providers.types import FailureCategory

# Maximum length of a tool's response kept for a member or a log.
EXCERPT_LENGTH = 500

# (pattern, replacement) pairs applied in order by redact().
_SECRET_PATTERNS = [
    # Bearer and basic credentials in headers quoted back by a tool.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    # Token-like keys in a JSON or form-encoded body.
    (
        re.compile(
            r'(?i)("?(?:access_token|refresh_token|api_key|apikey|client_secret|'
            r'password|secret|token|code|code_verifier)"?\s*[:=]\s*"?)[^"&,\s}]+'
        ),
        r"\1[redacted]",
    ),
    # Stripe keys and HubSpot private-app tokens wherever they appear.
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9_]+"), "[redacted]"),
    (re.compile(r"(?i)\bpat-[a-z0-9-]+"), "[redacted]"),
    # Mailchimp API keys: 32 hex digits and the data centre.
    (re.compile(r"\b[0-9a-f]{32}-[a-z]{2,4}[0-9]{1,3}\b"), "[redacted]"),
]


def redact(text):
    """Replace anything that looks like a credential in `text` with [redacted]."""
    if not text:
        return ""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def excerpt(text, length=EXCERPT_LENGTH):
    """Return a redacted excerpt of a tool's response, at most `length` characters."""
    text = redact(text or "")
    if len(text) > length:
        return text[: length - 1] + "…"
    return text


class ProviderError(Exception):
    """
    A request to a tool that failed, with the product's failure category.

    `message` is written for a workspace member. `response` is a trimmed,
    redacted excerpt of the tool's response. `retry_after` is the number of
    seconds the tool's Retry-After header requested, when it sent one.
    """

    def __init__(
        self,
        category,
        message,
        *,
        status=None,
        response="",
        retry_after=None,
        code="",
    ):
        self.category = FailureCategory(category)
        self.message = message
        self.status = status
        self.response = excerpt(response)
        self.retry_after = retry_after
        self.code = code
        super().__init__(message)

    @property
    def is_transient(self):
        return self.category.is_transient

    def __repr__(self):
        return f"ProviderError({self.category.value!r}, {self.message!r}, status={self.status})"


class ReauthorizationRequired(ProviderError):
    """The tool no longer accepts the connection's credentials; a member must reconnect."""

    def __init__(self, message, **kwargs):
        super().__init__(FailureCategory.AUTHORISATION, message, **kwargs)
