"""
Serve `responses`-mocked requests from the sandbox, in process.

Tests that need the tools' real behaviour (paging, events, 207 responses)
over many calls register this instead of hand-written payloads. The
requests never leave the process: `responses` hands each one to the
sandbox's request handler.
"""

import re
from urllib.parse import urlsplit

import responses

from sandbox.server import SandboxServer
from sandbox.web import Request

SANDBOX_URL = "http://sandbox.test"


def mock_sandbox(mock=responses, **seed_options):
    """Route every request to SANDBOX_URL into a new seeded sandbox; returns the SandboxServer (never started)."""
    seed_options.setdefault("rate_limits", False)
    server = SandboxServer(**seed_options)

    def answer(prepared):
        url = urlsplit(prepared.url)
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        request = Request(prepared.method, url.path, url.query, dict(prepared.headers), body)
        response = server.app(request)
        return response.status, dict(response.headers), response.body

    pattern = re.compile(re.escape(SANDBOX_URL) + r"/.*")
    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        mock.add_callback(method, pattern, callback=answer)
    return server
