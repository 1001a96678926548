"""
Zendesk's wire formats: the subdomain, error bodies, rate-limit headers and the read cursor.

Zendesk returns errors in three shapes:

- {"error": "RecordInvalid", "description": "...", "details": {"email": [{"description", "error"}]}}
  for validation errors (HTTP 422, sometimes 400);
- {"error": "invalid_token", "error_description": "..."} from OAuth;
- {"error": {"title": "...", "message": "..."}} from the search API.

A 429 may come with a plain-text body ("Rate limit exceeded…"), so a body
that is not JSON is classified by its status alone.
"""

import json
import re
from dataclasses import asdict, dataclass

from connections.http import category_for_status
from connections.providers.errors import ProviderError, ReauthorizationRequired, redact
from connections.providers.types import FailureCategory

# One DNS label: lowercase letters, digits and hyphens, 1 to 63 characters,
# no hyphen at either end.
SUBDOMAIN_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ZENDESK_HOST_SUFFIX = ".zendesk.com"

# Share of the per-minute limit left to the account's other integrations:
# below it, requests pause until the window resets.
RATE_LIMIT_RESERVE_SHARE = 0.1
RATE_LIMIT_MIN_RESERVE = 5
# Pause when the headers name no reset time, in seconds.
RATE_LIMIT_FALLBACK_PAUSE_SECONDS = 10
# Maximum pause after a successful response, because Zendesk's windows last one minute.
RATE_LIMIT_MAX_PAUSE_SECONDS = 60
# Endpoint headers such as "zendesk-ratelimit-tickets-index: total=100; remaining=99; resets=41".
ENDPOINT_LIMIT_PREFIX = "zendesk-ratelimit-"

# Validation error codes that mean another record already has the value.
DUPLICATE_ERRORS = frozenset({"DuplicateValue"})


def clean_subdomain(value):
    """
    Return the Zendesk subdomain trimmed and lower-cased, or raise ValueError saying what is wrong.

    Only a bare DNS label is accepted, so that a connection can reach no
    other host than {subdomain}.zendesk.com.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "The Zendesk subdomain is missing. Enter the part before .zendesk.com in your Zendesk "
            "address, for example acme for https://acme.zendesk.com."
        )
    text = value.strip().lower()
    if "://" in text or "/" in text:
        raise ValueError(
            f"The Zendesk subdomain {value!r} is invalid: enter only the subdomain, without https:// or "
            "a path, for example acme for https://acme.zendesk.com."
        )
    if text.endswith(ZENDESK_HOST_SUFFIX) and SUBDOMAIN_PATTERN.match(text.removesuffix(ZENDESK_HOST_SUFFIX)):
        raise ValueError(
            f"The Zendesk subdomain {value!r} is invalid: enter only the part before .zendesk.com, "
            f"that is {text.removesuffix(ZENDESK_HOST_SUFFIX)!r}."
        )
    if ":" in text:
        raise ValueError(
            f"The Zendesk subdomain {value!r} is invalid: it can't contain a port or a colon. "
            "Enter only the part before .zendesk.com."
        )
    if "." in text:
        raise ValueError(
            f"The Zendesk subdomain {value!r} is invalid: it can't contain dots. "
            "Enter only the part before .zendesk.com in your Zendesk address."
        )
    if not SUBDOMAIN_PATTERN.match(text):
        raise ValueError(
            f"The Zendesk subdomain {value!r} is invalid: use 1 to 63 lowercase letters, digits and "
            "hyphens, not starting or ending with a hyphen."
        )
    return text


def response_json(response):
    """Return the JSON body of a response, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def error_parts(body):
    """Return (code, description, details) of a Zendesk error body; empty values for other bodies."""
    if not isinstance(body, dict):
        return "", "", {}
    error = body.get("error")
    if isinstance(error, dict):
        code = str(error.get("title") or "")
        description = str(error.get("message") or "")
    else:
        code = str(error or "")
        description = str(body.get("description") or body.get("error_description") or "")
    details = body.get("details")
    return code, description, details if isinstance(details, dict) else {}


def detail_messages(details):
    """Return [(field, error code, description)] of a RecordInvalid body's details."""
    messages = []
    for field_name, problems in details.items():
        if not isinstance(problems, list):
            problems = [problems]
        for problem in problems:
            if isinstance(problem, dict):
                messages.append((field_name, str(problem.get("error") or ""), str(problem.get("description") or "")))
            else:
                messages.append((field_name, "", str(problem)))
    return messages


def classify(response, label="Zendesk"):
    """Turn a failed Zendesk response into a ProviderError with a member's message."""
    status = response.status_code
    body = response_json(response)
    code, description, details = error_parts(body)
    description = redact(description.strip())
    problems = detail_messages(details)
    detail = f": {description}" if description else "."

    if status == 401:
        category = FailureCategory.AUTHORISATION
        message = (
            f"{label} rejected the connection's credentials{detail} Reconnect {label} with a valid "
            "authorisation, or an agent's email and API token."
        )
    elif status == 403:
        category = FailureCategory.AUTHORISATION
        message = (
            f"{label} denied access{detail} The connected agent needs the admin role, or the OAuth "
            "authorisation needs the read and write scopes."
        )
    elif status == 404:
        category = FailureCategory.NOT_FOUND
        message = f"{label} has no such record{detail}"
    elif status == 429:
        category = FailureCategory.RATE_LIMITED
        message = (
            f"{label}'s per-minute API limit, shared by all integrations of the account, was reached, "
            "so the record is retried later."
        )
    elif status >= 500:
        category = FailureCategory.TOOL_ERROR
        message = f"{label} had an internal error (HTTP {status}){detail}"
    elif problems:
        duplicate = any(error in DUPLICATE_ERRORS for _field, error, _text in problems)
        category = FailureCategory.DUPLICATE if duplicate else FailureCategory.REJECTED_VALUE
        fields = ", ".join(dict.fromkeys(field_name for field_name, _error, _text in problems))
        texts = "; ".join(redact(text or error) for _field, error, text in problems)
        message = f"{label} rejected {fields}: {texts}"
    elif status == 409:
        # Zendesk returns 409 when another request changed or merged the
        # same record at the same moment, so a later retry succeeds.
        category = FailureCategory.TOOL_ERROR
        message = f"{label} reported a conflicting change to the same record{detail} It is retried later."
    elif status in (400, 422):
        category = FailureCategory.REJECTED_VALUE
        message = f"{label} rejected the request{detail}"
    else:
        category = category_for_status(status)
        message = f"{label} returned HTTP {status}{detail}"

    return ProviderError(category, message, status=status, response=response.text, code=code)


def classify_token_error(response):
    """Turn a rejected OAuth token request into ReauthorizationRequired or another ProviderError."""
    body = response_json(response)
    code = body.get("error") if isinstance(body, dict) else None
    if not isinstance(code, str):
        return classify(response)
    description = redact(str(body.get("error_description") or code))
    if code in ("invalid_grant", "invalid_token"):
        return ReauthorizationRequired(
            f"Zendesk rejected the authorisation: {description}. Reconnect Zendesk.",
            status=response.status_code,
            response=response.text,
            code=code,
        )
    return ProviderError(
        FailureCategory.AUTHORISATION,
        f"Zendesk rejected the OAuth token request ({code}): {description}. Check the OAuth client, "
        "then connect Zendesk again.",
        status=response.status_code,
        response=response.text,
        code=code,
    )


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _endpoint_limit_pause(headers):
    """Return the seconds until an exhausted endpoint limit resets, or 0."""
    for name, value in headers.items():
        if not name.lower().startswith(ENDPOINT_LIMIT_PREFIX):
            continue
        parts = dict(
            part.strip().split("=", 1) for part in value.split(";") if "=" in part
        )
        remaining = _number(parts.get("remaining"))
        resets = _number(parts.get("resets"))
        if remaining is not None and remaining <= 1 and resets:
            return min(resets, RATE_LIMIT_MAX_PAUSE_SECONDS)
    return 0


def throttle_seconds(response):
    """
    Return seconds to pause after a successful response, so the account's shared limit isn't used up.

    Zendesk's per-minute limit is shared by every integration of the
    account. When fewer than a tenth of the requests (at least 5) are left
    in the window, requests pause until the window resets: `ratelimit-reset`
    when Zendesk sends it, else a fixed 10 seconds.
    """
    headers = response.headers
    remaining = _number(headers.get("ratelimit-remaining"))
    limit = _number(headers.get("ratelimit-limit"))
    if remaining is None:
        remaining = _number(headers.get("X-Rate-Limit-Remaining"))
        limit = _number(headers.get("X-Rate-Limit"))
    pause = 0
    if remaining is not None:
        reserve = max(RATE_LIMIT_MIN_RESERVE, (limit or 0) * RATE_LIMIT_RESERVE_SHARE)
        if remaining <= reserve:
            reset = _number(headers.get("ratelimit-reset"))
            pause = reset if reset is not None else RATE_LIMIT_FALLBACK_PAUSE_SECONDS
    pause = max(pause, _endpoint_limit_pause(headers))
    return min(max(pause, 0), RATE_LIMIT_MAX_PAUSE_SECONDS)


@dataclass
class Cursor:
    """
    The position where a read of Zendesk records stopped, stored as compact JSON.

    `after` is the `after_cursor` of the users export, or `start_time` the
    Unix time an export starts from (organizations, or users before the
    first cursor). `tickets` is the `after_cursor` of the ticket export,
    kept while derived ticket fields are read.
    """

    after: str | None = None
    start_time: int | None = None
    tickets: str | None = None

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
            if not isinstance(values, dict):
                return None
            start_time = values.get("start_time")
            return cls(
                after=values.get("after"),
                start_time=int(start_time) if start_time is not None else None,
                tickets=values.get("tickets"),
            )
        except (ValueError, TypeError):
            return None
