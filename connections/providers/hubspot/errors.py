"""
HubSpot's error responses turned into the product's failure categories.

HubSpot sends errors as JSON: {"status": "error", "message", "correlationId",
"category", "subCategory", "errors": [...], "context": {...}}. Rate-limit
responses carry "policyName" (DAILY or TEN_SECONDLY_ROLLING) and sometimes
"errorType": "RATE_LIMIT" in place of a category. The token endpoint responds with
{"status": "BAD_REFRESH_TOKEN", "message"} or the OAuth 2.0
{"error": "invalid_grant"} form.
"""

import json
import logging
import re

from connections.http import category_for_status
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.types import FailureCategory

logger = logging.getLogger(__name__)

CATEGORIES = {
    "VALIDATION_ERROR": FailureCategory.REJECTED_VALUE,
    "INVALID_PARAMS": FailureCategory.REJECTED_VALUE,
    "PROPERTY_DOESNT_EXIST": FailureCategory.REJECTED_VALUE,
    "OBJECT_NOT_FOUND": FailureCategory.NOT_FOUND,
    "CONFLICT": FailureCategory.DUPLICATE,
    "OBJECT_ALREADY_EXISTS": FailureCategory.DUPLICATE,
    "RATE_LIMITS": FailureCategory.RATE_LIMITED,
    "RATE_LIMIT": FailureCategory.RATE_LIMITED,
    "MISSING_SCOPES": FailureCategory.AUTHORISATION,
    "INVALID_AUTHENTICATION": FailureCategory.AUTHORISATION,
    "EXPIRED_AUTHENTICATION": FailureCategory.AUTHORISATION,
    "INVALID_AUTHORIZATION": FailureCategory.AUTHORISATION,
}
DAILY_POLICY = "DAILY"
# Token endpoint codes that mean the refresh token (or authorization code)
# is revoked, expired or unknown: only a new authorisation helps.
REVOKED_GRANT_CODES = frozenset({"BAD_REFRESH_TOKEN", "invalid_grant", "BAD_AUTH_CODE"})
PROPERTY_ERRORS_PREFIX = "Property values were not valid:"
EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.IGNORECASE)


class HubSpotError(ProviderError):
    """A ProviderError that keeps HubSpot's parsed error body, for per-record attribution."""

    def __init__(self, category, message, *, body=None, **kwargs):
        super().__init__(category, message, **kwargs)
        self.body = body if isinstance(body, dict) else {}

    @property
    def policy(self):
        """Return the rate-limit policy HubSpot named (DAILY or TEN_SECONDLY_ROLLING), or ""."""
        return str(self.body.get("policyName") or "")

    @property
    def is_daily_limit(self):
        return self.category == FailureCategory.RATE_LIMITED and self.policy == DAILY_POLICY


def error_body(response):
    """Return the JSON object of an error response, or {} when the body is empty, not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def category_of(error, status=None):
    """Return the failure category of a HubSpot error object, falling back to the HTTP status."""
    name = str(error.get("category") or error.get("errorType") or "")
    if name in CATEGORIES:
        return CATEGORIES[name]
    if status is None:
        status = error.get("status") if isinstance(error.get("status"), int) else None
    if status is None:
        return FailureCategory.REJECTED_VALUE
    return category_for_status(status)


def quoted(error):
    """Return HubSpot's message in quotes with its correlation id, for a member's message."""
    text = str(error.get("message") or "").strip()
    correlation_id = error.get("correlationId")
    quote = f'"{text}"' if text else "no message"
    if correlation_id:
        return f"{quote} (correlation id {correlation_id})"
    return quote


def record_ids(error):
    """Return the record ids an error object names in its context (ids, id, objectIds or objectId)."""
    context = error.get("context") or {}
    ids = []
    for key in ("ids", "id", "objectIds", "objectId"):
        values = context.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            values = [values]
        ids.extend(str(value) for value in values)
    return ids


def property_errors(error):
    """
    Return the per-property problems of an error object as dicts with name, code and message.

    HubSpot embeds them as a JSON list after "Property values were not
    valid:" in the message, or lists them in errors[] with a code and a
    propertyName in the context.
    """
    problems = []
    message = str(error.get("message") or "")
    if message.startswith(PROPERTY_ERRORS_PREFIX):
        try:
            embedded = json.loads(message[len(PROPERTY_ERRORS_PREFIX) :].strip())
        except ValueError:
            embedded = []
        for item in embedded if isinstance(embedded, list) else []:
            if isinstance(item, dict) and item.get("name"):
                problems.append(
                    {"name": item["name"], "code": item.get("error") or "", "message": item.get("message") or ""}
                )
    for detail in error.get("errors") or []:
        if not isinstance(detail, dict):
            continue
        context = detail.get("context") or {}
        names = context.get("propertyName") or context.get("name") or []
        for name in names if isinstance(names, list) else [names]:
            problems.append({"name": name, "code": detail.get("code") or "", "message": detail.get("message") or ""})
    return problems


def missing_scopes(error):
    """Return the scopes that a MISSING_SCOPES response lists as required."""
    scopes = []
    for detail in [error, *(error.get("errors") or [])]:
        context = (detail.get("context") or {}) if isinstance(detail, dict) else {}
        for key in ("requiredGranularScopes", "requiredScopes", "requiredScope"):
            for scope in context.get(key) or []:
                if scope not in scopes:
                    scopes.append(scope)
    return scopes


def existing_id(error):
    """Return the id in a 409 "Contact already exists. Existing ID: 123" message, or None."""
    match = EXISTING_ID.search(str(error.get("message") or ""))
    return match.group(1) if match else None


def classify(response, label="HubSpot"):
    """Turn a failed HubSpot response into a HubSpotError with a category and a member's message."""
    status = response.status_code
    body = error_body(response)
    category = category_of(body, status) if body else category_for_status(status)
    if status == 429:
        category = FailureCategory.RATE_LIMITED
    elif status in (401, 403):
        category = FailureCategory.AUTHORISATION
    elif status >= 500:
        category = FailureCategory.TOOL_ERROR
    hubspot_message = quoted(body) if body else f"HTTP {status} with no JSON body"
    code = str(body.get("subCategory") or body.get("category") or body.get("errorType") or "")

    if category == FailureCategory.RATE_LIMITED:
        policy = str(body.get("policyName") or "")
        code = policy or code
        if policy == DAILY_POLICY:
            message = (
                f"{label}'s daily API limit for this account is used up; syncs resume after midnight "
                f"in the account's time zone. {label} returned {hubspot_message}."
            )
        else:
            message = f"{label}'s rate limit was still exceeded after retries; the records are retried on a later run. {label} returned {hubspot_message}."
    elif status == 401:
        message = f"{label} rejected the connection's credentials: {hubspot_message}. Reconnect {label} if this persists."
    elif body.get("category") == "MISSING_SCOPES" or status == 403:
        scopes = missing_scopes(body)
        if scopes:
            message = (
                f"{label} rejected the request because the connection lacks the scope "
                f"{', '.join(scopes)}: reconnect {label} and grant it. {label} returned {hubspot_message}."
            )
        else:
            message = f"{label} denied access to this data: {hubspot_message}. Reconnect {label} with the required permissions."
    elif category == FailureCategory.NOT_FOUND:
        message = f"{label} has no such record: {hubspot_message}."
    elif category == FailureCategory.DUPLICATE:
        message = f"{label} already has this record: {hubspot_message}."
    elif category == FailureCategory.TOOL_ERROR:
        bad_email = malformed_email_in_request(response)
        if bad_email is not None:
            category = FailureCategory.REJECTED_VALUE
            code = "INVALID_EMAIL"
            message = (
                f"{label} failed with HTTP {status} on the email {bad_email!r}, which is malformed; "
                f"correct the email in the source tool. {label} returned {hubspot_message}."
            )
        else:
            message = f"{label} failed with HTTP {status}: {hubspot_message}. The records are retried on a later run."
    else:
        message = f"{label} rejected the request: {hubspot_message}."

    return HubSpotError(category, message, body=body, status=status, response=response.text, code=code)


def classify_token_error(response, label="HubSpot"):
    """Turn a failed token-endpoint response into ReauthorizationRequired (revoked grant) or a HubSpotError."""
    body = error_body(response)
    code = str(body.get("status") or body.get("error") or "")
    hubspot_message = str(body.get("message") or body.get("error_description") or f"HTTP {response.status_code}")
    if response.status_code in (400, 401) and code in REVOKED_GRANT_CODES:
        return ReauthorizationRequired(
            f"{label} rejected the stored authorisation ({code}: {hubspot_message}); reconnect {label}.",
            status=response.status_code,
            response=response.text,
            code=code,
        )
    if response.status_code >= 500 or response.status_code == 429:
        return classify(response, label)
    return HubSpotError(
        FailureCategory.AUTHORISATION,
        f"{label}'s token endpoint rejected the request ({code or response.status_code}: {hubspot_message}); "
        "check the HubSpot app's client id, secret and redirect URI.",
        body=body,
        status=response.status_code,
        response=response.text,
        code=code,
    )


def malformed_email_in_request(response):
    """
    Return the email of a one-record write whose address is malformed, or None.

    HubSpot has returned HTTP 500 instead of a validation error for some
    malformed addresses. When the request wrote one record and its email is
    visibly malformed, the record is at fault, not HubSpot.
    """
    request = getattr(response, "request", None)
    raw = getattr(request, "body", None)
    if not raw:
        return None
    try:
        payload = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    inputs = payload.get("inputs")
    if inputs is None:
        inputs = [payload]
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        return None
    email = (inputs[0].get("properties") or {}).get("email")
    if isinstance(email, str) and email and is_malformed_email(email):
        return email
    return None


def is_malformed_email(email):
    """Check an address for the faults HubSpot is known to mishandle: no single "@", spaces, commas, a bad dot."""
    text = email.strip()
    if text.count("@") != 1 or any(char in text for char in " ,;<>()[]\\\""):
        return True
    local, domain = text.split("@")
    if not local or "." not in domain or ".." in text:
        return True
    return text.endswith(".") or local.startswith(".") or local.endswith(".") or domain.startswith(".")


def throttle_seconds(response):
    """
    Return seconds to pause when X-HubSpot-RateLimit-Remaining is at or below 5% of X-HubSpot-RateLimit-Max.

    HubSpot's limit is a rolling window of X-HubSpot-RateLimit-Interval-Milliseconds
    (10 s), and the headers don't say where in the window the account is, so
    the pause is one whole interval: after it, every counted call has left
    the window. Search responses carry no such headers, so searches are paced instead.
    """
    headers = response.headers
    try:
        maximum = int(headers["X-HubSpot-RateLimit-Max"])
        remaining = int(headers["X-HubSpot-RateLimit-Remaining"])
    except (KeyError, TypeError, ValueError):
        return 0
    if maximum <= 0 or remaining > maximum * 0.05:
        return 0
    try:
        interval_ms = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds") or 10_000)
    except ValueError:
        interval_ms = 10_000
    logger.info("HubSpot rate limit nearly used (%s of %s left); pausing %s ms", remaining, maximum, interval_ms)
    return interval_ms / 1000
