"""
Zendesk's JSON shapes for the sandbox: records as the API renders them, pagination, search queries and errors.

Lists page two ways, as Zendesk's do:

- cursor pagination with `page[size]` (at most 100) and `page[after]` or
  `page[before]`, returning `meta.has_more`, `meta.after_cursor` and
  `links.next`;
- offset pagination with `page` and `per_page` (at most 100), returning
  `next_page` and `count`. Zendesk refuses offset pages past the 100th
  with HTTP 400.
"""

import base64
import binascii
import re
from urllib.parse import urlencode

from sandbox.web import Response
from sandbox.zendesk_store import TICKET_STATUSES, iso

PAGE_SIZE_MAX = 100
OFFSET_PAGES_MAX = 100
SEARCH_RESULTS_MAX = 1000
SEARCH_TERM = re.compile(r'(?:(?P<key>[a-z_]+)(?P<op><=|>=|:|<|>))?(?P<value>"[^"]*"|\S+)')


class ZendeskError(Exception):
    """An error response: status and JSON body, or a plain-text body when `text` is given."""

    def __init__(self, status, body=None, text=None, headers=None):
        super().__init__(str(body or text))
        self.status = status
        self.body = body
        self.text = text
        self.headers = headers or {}

    def response(self):
        if self.text is not None:
            return Response(self.status, self.text.encode("utf-8"), "text/plain; charset=utf-8", self.headers)
        return Response.json(self.status, self.body, self.headers)


def error(status, code, description):
    return ZendeskError(status, {"error": code, "description": description})


def not_found():
    return error(404, "RecordNotFound", "Not found")


def invalid(description):
    return error(400, "InvalidValue", description)


def parse_int(value, name, default=None, minimum=1, maximum=None):
    """Return an integer query parameter; raise a 400 naming it when it isn't one in range."""
    if value in (None, ""):
        return default
    if not re.fullmatch(r"-?\d+", str(value)):
        raise invalid(f"{name} must be a whole number, got {value!r}.")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise invalid(f"{name} must be a whole number {bound}, got {number}.")
    return number


def parse_ids(text, name="ids", limit=100):
    """Return the ids of a comma-separated `ids` parameter; raise a 400 for anything else."""
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise invalid(f"{name} is missing: send up to {limit} comma-separated ids.")
    if len(parts) > limit:
        raise invalid(f"Too many {name}: {len(parts)} given, at most {limit} per request.")
    bad = [part for part in parts if not part.isdigit()]
    if bad:
        raise invalid(f"{name} must be numeric ids, got {bad[0]!r}.")
    return [int(part) for part in parts]


# Records


def render_user(user, account, base_url):
    return {
        "id": user.id,
        "url": f"{base_url}/api/v2/users/{user.id}.json",
        "name": user.name,
        "email": user.email,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "time_zone": user.time_zone,
        "iana_time_zone": "Etc/UTC" if user.time_zone == "UTC" else None,
        "phone": user.phone,
        "shared_phone_number": None if user.phone is None else False,
        "photo": None,
        "locale_id": 1,
        "locale": user.locale,
        "organization_id": user.organization_id,
        "role": user.role,
        "verified": user.verified,
        "external_id": user.external_id,
        "tags": list(user.tags),
        "alias": user.alias,
        "active": user.active,
        "shared": False,
        "shared_agent": False,
        "last_login_at": iso(user.last_login_at),
        "two_factor_auth_enabled": None,
        "signature": None,
        "details": user.details,
        "notes": user.notes,
        "role_type": None,
        "custom_role_id": None,
        "moderator": user.role != "end-user",
        "ticket_restriction": "requested" if user.role == "end-user" else None,
        "only_private_comments": False,
        "restricted_agent": user.role == "agent",
        "suspended": user.suspended,
        "default_group_id": None,
        "report_csv": user.role == "admin",
        "user_fields": {key: user.user_fields.get(key) for key in account.user_fields} | user.user_fields,
    }


def render_identity(identity, base_url):
    return {
        "url": f"{base_url}/api/v2/users/{identity.user_id}/identities/{identity.id}.json",
        "id": identity.id,
        "user_id": identity.user_id,
        "type": identity.type,
        "value": identity.value,
        "verified": identity.verified,
        "primary": identity.primary,
        "created_at": iso(identity.created_at),
        "updated_at": iso(identity.updated_at),
        "undeliverable_count": 0,
        "deliverable_state": "deliverable",
    }


def render_organization(organization, account, base_url):
    return {
        "url": f"{base_url}/api/v2/organizations/{organization.id}.json",
        "id": organization.id,
        "name": organization.name,
        "shared_tickets": organization.shared_tickets,
        "shared_comments": organization.shared_comments,
        "external_id": organization.external_id,
        "created_at": iso(organization.created_at),
        "updated_at": iso(organization.updated_at),
        "deleted_at": iso(organization.deleted_at),
        "domain_names": list(organization.domain_names),
        "details": organization.details,
        "notes": organization.notes,
        "group_id": organization.group_id,
        "tags": list(organization.tags),
        "organization_fields": {key: organization.organization_fields.get(key) for key in account.organization_fields}
        | organization.organization_fields,
    }


def render_ticket(ticket, base_url):
    return {
        "url": f"{base_url}/api/v2/tickets/{ticket.id}.json",
        "id": ticket.id,
        "external_id": None,
        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "generated_timestamp": ticket.updated_at,
        "type": ticket.type,
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.subject,
        "priority": ticket.priority,
        "status": ticket.status,
        "recipient": None,
        "requester_id": ticket.requester_id,
        "submitter_id": ticket.submitter_id,
        "assignee_id": ticket.assignee_id,
        "organization_id": ticket.organization_id,
        "group_id": None,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": list(ticket.tags),
        "custom_fields": [],
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "fields": [],
        "followup_ids": [],
        "brand_id": 1,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }


# Pagination


def encode_position(record_id):
    return base64.urlsafe_b64encode(f"id:{record_id}".encode()).decode("ascii").rstrip("=")


def decode_position(text, name):
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raw = ""
    if not raw.startswith("id:") or not raw[3:].isdigit():
        raise error(400, "InvalidPaginationParameter", f"{name} {text!r} is not a cursor this list returned.")
    return int(raw[3:])


def paginate(items, query, key, base_url, path, render):
    """
    Return the JSON body of one page of `items` (sorted by id), with cursor or offset pagination.

    Cursor pagination is used when any `page[...]` parameter is given, as
    Zendesk does; offset pagination otherwise, refused past page 100.
    """
    if any(name.startswith("page[") for name in query):
        return _cursor_page(items, query, key, base_url, path, render)
    page = parse_int(query.get("page"), "page", default=1)
    per_page = parse_int(query.get("per_page"), "per_page", default=PAGE_SIZE_MAX, maximum=PAGE_SIZE_MAX)
    if page > OFFSET_PAGES_MAX:
        raise error(400, "invalid", "Pagination limit reached for offset model")
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    more = start + per_page < len(items)
    url = f"{base_url}{path}"
    return {
        key: [render(item) for item in chunk],
        "next_page": f"{url}?{urlencode({'page': page + 1, 'per_page': per_page})}" if more else None,
        "previous_page": f"{url}?{urlencode({'page': page - 1, 'per_page': per_page})}" if page > 1 else None,
        "count": len(items),
    }


def _cursor_page(items, query, key, base_url, path, render):
    size = parse_int(query.get("page[size]"), "page[size]", default=PAGE_SIZE_MAX, maximum=PAGE_SIZE_MAX)
    after, before = query.get("page[after]"), query.get("page[before]")
    if after:
        position = decode_position(after, "page[after]")
        remaining = [item for item in items if item.id > position]
        chunk = remaining[:size]
        has_more = len(remaining) > size
    elif before:
        position = decode_position(before, "page[before]")
        preceding = [item for item in items if item.id < position]
        chunk = preceding[-size:]
        has_more = len(preceding) > size
    else:
        chunk = items[:size]
        has_more = len(items) > size
    after_cursor = encode_position(chunk[-1].id) if chunk else None
    before_cursor = encode_position(chunk[0].id) if chunk else None
    url = f"{base_url}{path}"
    return {
        key: [render(item) for item in chunk],
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
        "links": {
            "next": f"{url}?{urlencode({'page[after]': after_cursor, 'page[size]': size})}"
            if has_more and after_cursor else None,
            "prev": f"{url}?{urlencode({'page[before]': before_cursor, 'page[size]': size})}"
            if before_cursor else None,
        },
    }


# Search


def parse_search(query):
    """
    Return (terms, free text) of a search query: terms as {keyword: [(operator, value)]}.

    Zendesk's syntax is `keyword:value` (or `<`, `>`, `<=`, `>=`), with
    quotes around values that contain spaces; words without a keyword
    search names and emails.
    """
    if not query or not query.strip():
        raise ZendeskError(400, {"error": {"title": "Invalid search", "message": "Invalid search: query is missing"}})
    terms, words = {}, []
    for match in SEARCH_TERM.finditer(query):
        value = match.group("value").strip('"')
        if match.group("key"):
            terms.setdefault(match.group("key"), []).append((match.group("op"), value))
        else:
            words.append(value.lower())
    return terms, words


def wildcard_match(pattern, text):
    """Match Zendesk's trailing-`*` wildcard, ignoring case."""
    text = (text or "").lower()
    pattern = pattern.lower()
    if pattern.endswith("*"):
        return text.startswith(pattern[:-1])
    return text == pattern


def user_matches(account, user, terms, words):
    """
    Check a user against a parsed users search.

    Terms of one keyword are joined with OR and different keywords with AND.
    NOTE: Zendesk's search reference doesn't say how repeated `email:` terms
    combine; OR is what clients that search several emails at once rely on.
    `email:` matches every email identity of the user, not only the primary.
    """
    emails = [identity.value for identity in account.user_identities(user.id) if identity.type == "email"]
    for keyword, conditions in terms.items():
        values = [value for _op, value in conditions]
        if keyword == "type":
            if "user" not in values:
                return False
        elif keyword == "email":
            if not any(wildcard_match(value, email) for value in values for email in emails):
                return False
        elif keyword in ("name", "role", "external_id", "phone"):
            if not any(wildcard_match(value, getattr(user, keyword) or "") for value in values):
                return False
        elif keyword == "organization_id":
            if str(user.organization_id) not in values:
                return False
        elif keyword == "tags":
            if not set(value.lower() for value in values) & set(user.tags):
                return False
        else:
            raise ZendeskError(400, {"error": {
                "title": "Invalid search",
                "message": f"Invalid search: Your search query contains an unsupported field: {keyword}",
            }})
    haystack = " ".join([user.name.lower(), *emails])
    return all(word.rstrip("*") in haystack for word in words)


def ticket_matches(ticket, terms, words):
    """Check a ticket against a parsed search; deleted tickets never match, as in Zendesk's search."""
    if ticket.status == "deleted":
        return False
    for keyword, conditions in terms.items():
        if keyword == "type":
            if "ticket" not in [value for _op, value in conditions]:
                return False
        elif keyword in ("requester_id", "requester", "organization_id", "assignee_id"):
            attribute = "requester_id" if keyword == "requester" else keyword
            if str(getattr(ticket, attribute)) not in [value for _op, value in conditions]:
                return False
        elif keyword == "status":
            if not any(status_compare(ticket.status, op, value) for op, value in conditions):
                return False
        elif keyword in ("priority", "ticket_type"):
            attribute = "type" if keyword == "ticket_type" else keyword
            if str(getattr(ticket, attribute)) not in [value for _op, value in conditions]:
                return False
        elif keyword == "tags":
            if not {value.lower() for _op, value in conditions} & set(ticket.tags):
                return False
        else:
            raise ZendeskError(400, {"error": {
                "title": "Invalid search",
                "message": f"Invalid search: Your search query contains an unsupported field: {keyword}",
            }})
    return all(word.rstrip("*") in ticket.subject.lower() for word in words)


def status_compare(status, op, value):
    """Compare ticket statuses in Zendesk's order: new < open < pending < hold < solved < closed."""
    if value not in TICKET_STATUSES:
        raise ZendeskError(400, {"error": {
            "title": "Invalid search", "message": f"Invalid search: {value!r} is not a ticket status",
        }})
    left, right = TICKET_STATUSES.index(status), TICKET_STATUSES.index(value)
    return {":": left == right, "<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def search_page(items, query, key, base_url, path, render, extra=None):
    """Return one offset page of search results; Zendesk serves at most 1,000 results per query."""
    page = parse_int(query.get("page"), "page", default=1)
    per_page = parse_int(query.get("per_page"), "per_page", default=PAGE_SIZE_MAX, maximum=PAGE_SIZE_MAX)
    start = (page - 1) * per_page
    if start + per_page > SEARCH_RESULTS_MAX:
        # NOTE: Zendesk's text for this 422 is modelled on reports, not copied from its reference.
        raise error(422, "invalid", "Requested response size was greater than Search Response Limits")
    chunk = items[start : start + per_page]
    params = {name: value for name, value in query.items() if name not in ("page",)}
    more = start + per_page < min(len(items), SEARCH_RESULTS_MAX)
    url = f"{base_url}{path}"
    body = {
        key: [render(item) for item in chunk],
        "facets": None,
        "next_page": f"{url}?{urlencode({**params, 'page': page + 1})}" if more else None,
        "previous_page": f"{url}?{urlencode({**params, 'page': page - 1})}" if page > 1 else None,
        "count": len(items),
    }
    body.update(extra or {})
    return body
