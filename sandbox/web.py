"""
HTTP plumbing shared by the tool stand-ins: requests, responses and form bodies.

Stripe sends `application/x-www-form-urlencoded` bodies with bracketed
nesting (`metadata[plan]=pro`, `expand[]=data.subscriptions`,
`created[gte]=1700000000`); `parse_nested_form` turns those pairs into dicts
and lists the way Stripe reads them.
"""

import json
import re
from urllib.parse import parse_qsl, urlencode

import orjson

KEY_PART = re.compile(r"\[([^\[\]]*)\]")


class BadRequestBody(ValueError):
    """A body that is not valid JSON or form data."""


class Request:
    """One HTTP request as the tool handlers see it."""

    def __init__(self, method, path, query_string, headers, body):
        self.method = method.upper()
        self.path = path
        self.query_string = query_string or ""
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = body or b""

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def query_pairs(self):
        return parse_qsl(self.query_string, keep_blank_values=True)

    def query(self):
        """Return the query string as a dict of the last value given for each name."""
        return dict(self.query_pairs())

    def form_pairs(self):
        try:
            return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as error:
            raise BadRequestBody(f"The request body is not UTF-8: {error}") from error

    def json(self):
        """Parse the body as JSON; an empty body is an empty object."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadRequestBody(f"The request body is not valid JSON: {error}") from error


class Response:
    """One HTTP response: status, headers and body bytes."""

    def __init__(self, status, body=b"", content_type="application/json", headers=None):
        self.status = status
        self.body = body
        self.headers = {"Content-Type": content_type}
        self.headers.update(headers or {})

    @classmethod
    def json(cls, status, payload, headers=None):
        # orjson encodes a 300 KB list page several times faster than the
        # standard library. The sandbox's own CPU time bounds how fast a
        # benchmark run can go.
        body = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
        return cls(status, body, "application/json", headers)

    @classmethod
    def html(cls, status, text, headers=None):
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8", headers)

    @classmethod
    def redirect(cls, location):
        return cls(302, b"", "text/plain", {"Location": location})

    def payload(self):
        """Return the JSON body decoded, for tests and idempotent replays."""
        return json.loads(self.body) if self.body else None


def split_form_key(key):
    """Split `a[b][]` into `["a", "b", ""]`; raise ValueError on unbalanced brackets."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    rest = "[" + rest
    parts = KEY_PART.findall(rest)
    if "".join(f"[{part}]" for part in parts) != rest or not head:
        raise ValueError(f"Invalid parameter name: {key!r}")
    return [head, *parts]


def parse_nested_form(pairs):
    """
    Build nested dicts and lists from bracketed form pairs, as Stripe reads them.

    `a[]=x` appends to a list; `a[0]=x` sets an index, and a dict whose keys
    are all indexes becomes a list, except directly under `metadata`, where
    "0" is an ordinary key. Raises ValueError for a malformed name.
    """
    root = {}
    for key, value in pairs:
        parts = split_form_key(key)
        node = root
        for depth, part in enumerate(parts[:-1]):
            following = parts[depth + 1]
            if isinstance(node, list):
                node.append({} if following != "" else [])
                node = node[-1]
                continue
            existing = node.get(part)
            if existing is None or isinstance(existing, str):
                existing = [] if following == "" else {}
                node[part] = existing
            node = existing
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return _index_dicts_to_lists(root, parent_key=None)


def _index_dicts_to_lists(value, parent_key):
    if isinstance(value, list):
        return [_index_dicts_to_lists(item, None) for item in value]
    if not isinstance(value, dict):
        return value
    converted = {key: _index_dicts_to_lists(item, key) for key, item in value.items()}
    if converted and parent_key != "metadata" and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def append_query(url, params):
    """Return `url` with `params` added to its query string."""
    separator = "&" if "?" in url else "?"
    return url + separator + urlencode(params)
