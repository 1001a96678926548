"""
Mailchimp's wire formats: API keys and data centres, member ids, email checks and error bodies.

Errors come as problem details (RFC 7807, `application/problem+json`):
{"type", "title", "status", "detail", "instance"}, and for validation
errors an `errors` list of {"field", "message"}. A 403 or 429 from
Mailchimp's edge at very high volume has no JSON body at all.
"""

import hashlib
import re

from connections.http import category_for_status
from connections.providers.errors import ProviderError, ReauthorizationRequired, redact
from connections.providers.types import FailureCategory

LABEL = "Mailchimp"

# Data centres look like "us6" or "us21". The pattern also keeps a key's
# suffix from smuggling another host into the API address.
DATA_CENTRE_PATTERN = re.compile(r"^[a-z]{2,4}[0-9]{1,3}$")
# Mailchimp API keys are 32 hexadecimal characters, a dash and the data centre.
API_KEY_PATTERN = re.compile(r"^[0-9a-f]{32}-[a-z]{2,4}[0-9]{1,3}$")
# An audience (list) id, as in "members:4f8a1c2b3d".
LIST_ID_PATTERN = re.compile(r"^[A-Za-z0-9]{1,32}$")

# Mailchimp keys quoted back in an error response.
_KEY_IN_TEXT = re.compile(r"\b[0-9a-f]{32}-[a-z]{2,4}[0-9]{1,3}\b")

# Member errors that no retry can fix, matched on Mailchimp's own words.
FORGOTTEN_PATTERN = re.compile(r"permanently deleted|cannot be re-imported|forgotten email", re.IGNORECASE)
COMPLIANCE_PATTERN = re.compile(r"compliance state", re.IGNORECASE)
FAKE_PATTERN = re.compile(r"looks fake or invalid", re.IGNORECASE)
INVALID_EMAIL_PATTERN = re.compile(r"valid email", re.IGNORECASE)
# "… has signed up to a lot of lists very recently; we're not allowing more
# signups for now": a per-address throttle that lifts by itself.
TOO_MANY_SIGNUPS_PATTERN = re.compile(r"signed up to a lot of lists|not allowing more signups", re.IGNORECASE)

# Characters Mailchimp rejects in an address even though they may be valid
# in RFC 5322. Mailchimp has responded to a comma with HTTP 500 instead of a 400.
_EMAIL_FORBIDDEN = set(' ,;:<>()[]\\"')
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


def without_key(text):
    """Return `text` redacted, with Mailchimp API keys removed too."""
    return _KEY_IN_TEXT.sub("[redacted]", redact(text or ""))


def data_centre_of_key(api_key):
    """
    Return the data centre named by an API key's suffix ("…-us6" gives "us6").

    Raises ProviderError (authorisation) naming what is wrong, without
    quoting the key.
    """
    key = (api_key or "").strip()
    if not key:
        raise ProviderError(
            FailureCategory.AUTHORISATION,
            "The Mailchimp API key is missing. Create one in Mailchimp under Profile > Extras > API keys "
            "and paste it whole.",
        )
    head, dash, suffix = key.rpartition("-")
    if not dash or not head:
        raise ProviderError(
            FailureCategory.AUTHORISATION,
            "The Mailchimp API key has no data centre suffix: a key ends with a dash and its data centre, "
            "such as -us6. Copy the whole key from Profile > Extras > API keys in Mailchimp.",
        )
    if not DATA_CENTRE_PATTERN.match(suffix):
        raise ProviderError(
            FailureCategory.AUTHORISATION,
            f"The Mailchimp API key ends with {suffix[:12]!r}, which is not a data centre: a key ends "
            "with a dash and its data centre, such as -us6. Copy the whole key from Profile > Extras > "
            "API keys in Mailchimp.",
        )
    return suffix


def check_data_centre(value, source):
    """Return `value` when it is a data centre name, else raise ProviderError naming `source`."""
    if isinstance(value, str) and DATA_CENTRE_PATTERN.match(value):
        return value
    raise ProviderError(
        FailureCategory.TOOL_ERROR,
        f"{source} gave {str(value)[:20]!r} as the Mailchimp data centre, which is not one (such as us6). "
        "Connect Mailchimp again.",
    )


def subscriber_hash(email):
    """Return Mailchimp's member id for an address: the MD5 hex digest of its lower-cased UTF-8 bytes."""
    return hashlib.md5((email or "").strip().lower().encode("utf-8")).hexdigest()


def email_problem(email):
    """
    Return why Mailchimp would refuse an address, or "" when it looks acceptable.

    Mailchimp accepts only ASCII addresses: a non-ASCII local part
    ("josé@…") is rejected, and so are internationalised domains that are
    not written in punycode. Commas, spaces, a trailing dot and empty
    labels are rejected before any request, because Mailchimp has responded
    to some of them with HTTP 500 instead of a validation error.
    """
    text = (email or "").strip()
    if not text:
        return "the email address is empty"
    if text.count("@") != 1:
        return f"{text!r} is not one email address (it must contain exactly one @)"
    local, domain = text.split("@")
    if not text.isascii():
        return f"Mailchimp accepts only ASCII email addresses, and {text!r} contains other characters"
    if not local or not domain:
        return f"{text!r} has an empty part before or after the @"
    if any(char in _EMAIL_FORBIDDEN or not char.isprintable() for char in text):
        return f"{text!r} contains a space, comma or other character Mailchimp rejects in an address"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return f"{text!r} has a misplaced dot before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return f"{text!r} has no valid domain after the @ (such as example.com, without a trailing dot)"
    return ""


def response_json(response):
    """Return the JSON body of a response, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def problem_details(response):
    """Return (title, detail, [(field, message), ...]) of a problem-details body, redacted."""
    body = response_json(response)
    if not isinstance(body, dict):
        return "", "", []
    title = without_key(str(body.get("title") or "")).strip()
    detail = without_key(str(body.get("detail") or "")).strip()
    errors = []
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        field = str(item.get("field") or "").strip()
        message = without_key(str(item.get("message") or "")).strip()
        errors.append((field, message))
    return title, detail, errors


def member_error_category(text):
    """Return the failure category of a member error text (from a batch or a problem detail)."""
    if TOO_MANY_SIGNUPS_PATTERN.search(text):
        return FailureCategory.RATE_LIMITED
    return FailureCategory.REJECTED_VALUE


def member_error_message(email, text):
    """Return a member's message for a refused member write, naming the address and what to do."""
    if FORGOTTEN_PATTERN.search(text):
        return (
            f"Mailchimp won't re-add {email}: the contact was permanently deleted from the audience, "
            "and only the person can re-subscribe, through a Mailchimp signup form. Retrying won't help."
        )
    if COMPLIANCE_PATTERN.search(text):
        return (
            f"Mailchimp won't subscribe {email}: the contact unsubscribed, bounced or is under compliance "
            "review, and only the person can re-subscribe. Retrying won't help."
        )
    if FAKE_PATTERN.search(text) or INVALID_EMAIL_PATTERN.search(text):
        return f"Mailchimp rejected the address {email}: {text} Correct the address in the source."
    if TOO_MANY_SIGNUPS_PATTERN.search(text):
        return f"Mailchimp is holding back signups of {email} for now: {text} The record is retried later."
    return f"Mailchimp rejected {email}: {text}"


def classify(response, label=LABEL):
    """
    Turn a failed Mailchimp response into a ProviderError with a member's message.

    The title, detail and field errors of the problem-details body are
    quoted, with anything that looks like a key redacted. A body that is
    not JSON (an HTML page of Mailchimp's edge, a plain-text 429) is
    classified by its status alone.
    """
    status = response.status_code
    title, detail, field_errors = problem_details(response)
    explanation = detail or title
    if field_errors:
        listed = "; ".join(f"{field}: {text}" if field else text for field, text in field_errors)
        explanation = f"{explanation} ({listed})" if explanation else listed
    said = f": {explanation}" if explanation else "."
    said_end = said if said.endswith((".", ")")) else f"{said}."
    is_problem = bool(title or detail)

    if status == 401:
        category = FailureCategory.AUTHORISATION
        message = (
            f"{label} rejected the connection's API key or token{said_end} Mailchimp keys and tokens "
            f"don't expire, so it was revoked or disabled: reconnect {label}."
        )
    elif status == 403 and not is_problem:
        # Mailchimp's edge returns 403 without a JSON body when one user sends
        # a very high volume of requests; Mailchimp's own denials carry one.
        category = FailureCategory.RATE_LIMITED
        message = f"{label} turned requests away for a while (HTTP 403 without details), so the record is retried later."
    elif status == 403:
        category = FailureCategory.AUTHORISATION
        if re.search(r"suspend|disabled", explanation, re.IGNORECASE):
            message = f"The {label} account is suspended or disabled{said_end} Resolve it in {label}, then verify the connection."
        else:
            message = (
                f"{label} denied access{said_end} The user who connected Mailchimp needs the Manager or "
                "Admin role in the account."
            )
    elif status == 404:
        category = FailureCategory.NOT_FOUND
        message = f"{label} has no such audience or member{said_end}"
    elif status == 429:
        category = FailureCategory.RATE_LIMITED
        message = (
            f"{label}'s limit of 10 simultaneous connections per user was reached, so the record is "
            "retried later."
        )
    elif status >= 500:
        category = FailureCategory.TOOL_ERROR
        message = f"{label} had an internal error (HTTP {status}){said_end}"
    elif status == 400 and title == "Member Exists":
        category = FailureCategory.DUPLICATE
        message = f"{label} already has this member{said_end}"
    elif status in (400, 422):
        category = member_error_category(explanation)
        if FORGOTTEN_PATTERN.search(explanation) or COMPLIANCE_PATTERN.search(explanation):
            message = member_error_message("the contact", explanation)
        else:
            message = f"{label} rejected the request{said_end}"
    else:
        category = category_for_status(status)
        message = f"{label} responded with HTTP {status}{said_end}"

    error = ProviderError(category, message, status=status, response=without_key(response.text), code=title)
    # Whole-batch errors name members by their place ("members.item:3.email_address").
    error.field_errors = field_errors
    return error


def classify_token_error(response):
    """Turn a rejected OAuth token or metadata request into ReauthorizationRequired or another ProviderError."""
    body = response_json(response)
    code = body.get("error") if isinstance(body, dict) else None
    if not isinstance(code, str):
        return classify(response)
    description = without_key(str(body.get("error_description") or code))
    if code in ("invalid_grant", "invalid_token"):
        return ReauthorizationRequired(
            f"Mailchimp rejected the authorisation: {description}. Connect Mailchimp again.",
            status=response.status_code,
            response=without_key(response.text),
            code=code,
        )
    return ProviderError(
        FailureCategory.AUTHORISATION,
        f"Mailchimp rejected the OAuth request ({code}): {description}. Connect Mailchimp again.",
        status=response.status_code,
        response=without_key(response.text),
        code=code,
    )
