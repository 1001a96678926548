"""
Stripe's wire formats: form-encoded values, API keys, error bodies and the read cursor.

Stripe takes `application/x-www-form-urlencoded` bodies with bracketed
nesting (`metadata[plan_tier]=pro`, `address[city]=Lyon`) and returns
errors as {"error": {"type", "code", "message", "param"}}.
"""

import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal

from connections.http import category_for_status
from connections.providers.errors import ProviderError, ReauthorizationRequired, redact
from connections.providers.types import FailureCategory

# A 403 from a restricted key names the permission it lacks, as in
# "Having the 'rak_customer_write' permission would allow this request to continue."
PERMISSION_PATTERN = re.compile(r"'(rak_[a-z0-9_]+)'")


class WireValueError(ValueError):
    """A value that has no form-encoded form in Stripe, with a message naming it."""


def form_name(field_name):
    """Return the form parameter of a field name: "metadata.plan" becomes "metadata[plan]"."""
    head, _, rest = field_name.partition(".")
    if not rest:
        return head
    return f"{head}[{rest}]"


def form_text(value, param):
    """
    Return a value as the text Stripe expects in a form body.

    None becomes "", which Stripe reads as "unset this field". Lists and
    dicts raise WireValueError, because Stripe's scalar fields and metadata
    values only hold single strings.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    kind = "a list" if isinstance(value, list | tuple) else f"a {type(value).__name__}"
    raise WireValueError(f"Stripe takes a single string in {param}, and the value is {kind}: {value!r:.80}.")


def response_json(response):
    """Return the JSON body of a response, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def classify(response, label="Stripe"):
    """
    Turn a failed Stripe response into a ProviderError with a member's message.

    Stripe's `message` and `param` are quoted, with anything that looks like
    a key redacted. A body that is not JSON (an HTML page from a proxy, a
    plain-text 429) is classified by its status alone.
    """
    status = response.status_code
    body = response_json(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    stripe_message = redact((error.get("message") or "").strip())
    param = error.get("param") or ""
    code = error.get("code") or error.get("type") or ""
    detail = f": {stripe_message}" if stripe_message else "."

    if status == 401:
        category = FailureCategory.AUTHORISATION
        message = (
            f"{label} rejected the connection's key or token{detail} "
            f"Reconnect {label} with a valid secret key, restricted key or authorisation."
        )
    elif status == 403:
        category = FailureCategory.AUTHORISATION
        permission = PERMISSION_PATTERN.search(stripe_message)
        if permission:
            message = (
                f"The restricted key lacks the {permission.group(1)} permission{detail} "
                f"Grant it to the key in the {label} Dashboard, or reconnect with a key that has it."
            )
        else:
            message = f"{label} denied access{detail} Check the key's permissions in the {label} Dashboard."
    elif status == 404 or code == "resource_missing":
        category = FailureCategory.NOT_FOUND
        message = f"{label} has no such record{detail}"
    elif status == 429:
        category = FailureCategory.RATE_LIMITED
        if code == "lock_timeout":
            message = (
                f"{label} was busy with another change to the same record (lock timeout), so "
                "the record is retried later."
            )
        else:
            message = f"{label}'s rate limit was reached, so the record is retried later."
    elif status == 409 or error.get("type") == "idempotency_error":
        # Stripe returns 409 when a request with the same Idempotency-Key is
        # still in flight, or was sent before with different values.
        category = FailureCategory.TOOL_ERROR
        message = f"{label} reported a conflicting request{detail}"
    elif status >= 500:
        category = FailureCategory.TOOL_ERROR
        message = f"{label} had an internal error (HTTP {status}){detail}"
    elif status in (400, 402, 422):
        category = FailureCategory.REJECTED_VALUE
        target = param or "the request"
        message = f"{label} rejected {target}{detail}"
    else:
        category = category_for_status(status)
        message = f"{label} returned HTTP {status}{detail}"

    return ProviderError(category, message, status=status, response=response.text, code=code)


@dataclass
class Cursor:
    """
    Where a read of Stripe customers stopped, stored as compact JSON.

    `since` is the Unix time from which events are read next. During a full
    read, `after` is the id of the last customer handled, so that a stopped
    run resumes with the next page. `event` is the newest event id seen.
    """

    since: int
    event: str | None = None
    after: str | None = None

    def dumps(self):
        values = {key: value for key, value in asdict(self).items() if value is not None}
        return json.dumps(values, separators=(",", ":"), sort_keys=True)

    @classmethod
    def loads(cls, text):
        """Return the Cursor stored in `text`, or None when it is empty or unreadable."""
        if not text:
            return None
        try:
            values = json.loads(text)
            cursor = cls(
                since=int(values["since"]),
                event=values.get("event"),
                after=values.get("after"),
            )
        except (ValueError, TypeError, KeyError):
            return None
        return cursor


def check_api_key(api_key):
    """Return the key stripped of whitespace, or raise ProviderError unless it is a secret or restricted key."""
    key = (api_key or "").strip()
    if key.startswith(("sk_", "rk_")):
        return key
    if not key:
        message = "The Stripe API key is missing. Paste a restricted key (rk_…) from the Stripe Dashboard."
    elif key.startswith("pk_"):
        message = (
            "This is a publishable key (pk_…), which can't read customers. Paste a restricted key "
            "(rk_…) or a secret key (sk_…) from Developers > API keys in the Stripe Dashboard."
        )
    else:
        message = (
            f"The key starting with {key[:3]!r} is not a Stripe secret or restricted key: those start "
            "with sk_ or rk_. Copy the key from Developers > API keys in the Stripe Dashboard."
        )
    raise ProviderError(FailureCategory.AUTHORISATION, message)


def classify_token_error(response):
    """Turn a rejected OAuth token request into ReauthorizationRequired or another ProviderError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, str):
        description = redact(body.get("error_description") or code)
        if code == "invalid_grant":
            return ReauthorizationRequired(
                f"Stripe rejected the authorisation: {description}. Reconnect Stripe.",
                status=response.status_code,
                response=response.text,
                code=code,
            )
        return ProviderError(
            FailureCategory.AUTHORISATION,
            f"Stripe rejected the OAuth token request ({code}): {description}. Connect Stripe again.",
            status=response.status_code,
            response=response.text,
            code=code,
        )
    return classify(response)
