"""
HTTP server of the sandbox: one loopback server for every tool stand-in.

Each tool lives under its own path prefix (`/stripe`, `/hubspot`, `/zendesk`,
`/mailchimp`); a new
tool is one module with an API class and one entry in `TOOL_APIS`. The
server speaks HTTP/1.1 with keep-alive and a thread per connection, and all
data lives in memory in `SandboxServer.state`.
"""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from sandbox import seed as seeding
from sandbox import state as sandbox_state
from sandbox.hubspot import HubSpotAPI
from sandbox.mailchimp import MailchimpAPI
from sandbox.state import SandboxState
from sandbox.stripe import StripeAPI
from sandbox.web import Request, Response
from sandbox.zendesk import ZendeskAPI

logger = logging.getLogger(__name__)

TOOL_APIS = {"stripe": StripeAPI, "hubspot": HubSpotAPI, "zendesk": ZendeskAPI, "mailchimp": MailchimpAPI}
MAX_BODY_BYTES = 10 * 1024 * 1024


class SandboxApp:
    """Dispatch requests to the tool APIs by path prefix and count them."""

    def __init__(self, state, rate_limits=True):
        self.state = state
        self.tools = {name: api(state, rate_limits=rate_limits) for name, api in TOOL_APIS.items()}

    def __call__(self, request):
        prefix, _, rest = request.path.lstrip("/").partition("/")
        api = self.tools.get(prefix)
        if api is None:
            return self.index(request)
        try:
            response, endpoint, kind = api.handle(request, "/" + rest)
        except Exception:
            logger.exception("Sandbox %s failed on %s %s", prefix, request.method, request.path)
            response, endpoint, kind = Response.json(500, {"error": "The sandbox failed; see its log."}), "error", "error"
        self.state.counters.record(prefix, endpoint, kind, response.status)
        if response.status >= 400:
            # 429s come in bursts during benchmarks, so they are logged at debug level only.
            level = logging.DEBUG if response.status == 429 else logging.INFO
            logger.log(level, "Sandbox %s %s %s returned %s", prefix, request.method, request.path, response.status)
        return response

    def index(self, request):
        if request.path not in ("", "/"):
            return Response.json(404, {"error": f"No sandbox tool at {request.path}; tools: {', '.join(self.tools)}."})
        return Response.json(200, {"tools": {name: f"/{name}" for name in self.tools}})


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OneprofileSandbox/1"
    # Keep-alive clients wait for each response; without TCP_NODELAY, Nagle's
    # algorithm and delayed ACKs add about 40 ms to every request.
    disable_nagle_algorithm = True

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(Response.json(413, {"error": f"Body of {length} bytes is over the {MAX_BODY_BYTES} byte limit."}))
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(self.command, url.path, url.query, dict(self.headers.items()), body)
        self._write(self.server.app(request))

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def _write(self, response):
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class SandboxServer:
    """
    A running sandbox: `start()` serves in a background thread, `stop()` shuts it down.

    With `populate` (the default) it creates the demo accounts: Stripe key
    `sk_test_sandbox_demo`, HubSpot token `pat-sandbox-demo`, Zendesk agent
    `agent@sandboxdemo.test` with API token `zendesk-sandbox-token`, and
    Mailchimp key `0123456789abcdef0123456789abcdef-us1`. It seeds them with
    `customers` Stripe customers, `contacts` HubSpot contacts, Zendesk users
    with tickets and one Mailchimp audience.
    """

    def __init__(self, host="127.0.0.1", port=0, rate_limits=True, seed=0, populate=True, **seed_options):
        self.host = host
        self.port = port
        self.state = SandboxState(seed=seed)
        if populate:
            seeding.seed_demo(self.state, seed=seed, **seed_options)
        self.app = SandboxApp(self.state, rate_limits=rate_limits)
        self._httpd = None
        self._thread = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def bind(self):
        """Open the listening socket (port 0 picks a free port); `url` is final afterwards."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self.port), SandboxRequestHandler)
            self._httpd.app = self.app
            self.port = self._httpd.server_address[1]
        return self

    def start(self):
        """Serve in a background thread; return self."""
        self.bind()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sandbox-http", daemon=True)
        self._thread.start()
        logger.info("Sandbox serving on %s", self.url)
        return self

    def serve_forever(self):
        """Serve in the calling thread until interrupted."""
        self.bind()
        logger.info("Sandbox serving on %s", self.url)
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()
            self._httpd = None

    def stop(self):
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("Sandbox on %s stopped", self.url)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def describe(server):
    """Return the base URLs and demo credentials as JSON text, for the command line."""
    return json.dumps({
        "stripe_base_url": f"{server.url}/stripe",
        "stripe_secret_key": "sk_test_sandbox_demo",
        "stripe_restricted_key": "rk_test_sandbox_demo",
        "hubspot_base_url": f"{server.url}/hubspot",
        "hubspot_private_app_token": "pat-sandbox-demo",
        "zendesk_base_url": f"{server.url}/zendesk",
        "zendesk_subdomain": sandbox_state.DEMO_ZENDESK_SUBDOMAIN,
        "zendesk_agent_email": sandbox_state.DEMO_ZENDESK_AGENT,
        "zendesk_api_token": sandbox_state.DEMO_ZENDESK_API_TOKEN,
        "mailchimp_base_url": f"{server.url}/mailchimp",
        "mailchimp_api_key": sandbox_state.DEMO_MAILCHIMP_API_KEY,
        "mailchimp_audience_id": sandbox_state.DEMO_MAILCHIMP_LIST,
        "oauth_client_id": "sandbox-client-id",
        "oauth_client_secret": "sandbox-client-secret",
    }, indent=2)
