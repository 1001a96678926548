"""
The one HTTP client every provider uses.

Each call has a connect and a read timeout. 429 and 5xx responses are retried
with exponential backoff and full jitter, waiting at least what Retry-After
requests (seconds or an HTTP-date), up to a bound. A 401 triggers one credential
refresh and one repeat. Logs name the provider, the connection, the method,
the path and the status, never a query string, a header or a body, because
those carry emails and tokens.
"""

import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit

import msgspec
import orjson
import requests
import urllib3
from requests.hooks import dispatch_hook

from connections.providers.encoding import json_bytes
from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
MAX_RETRIES = 4
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30
# A Retry-After longer than this is not waited out inside a request: the
# error goes to the run, which retries the records later.
MAX_RETRY_AFTER_SECONDS = 120

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
CALL_KINDS = ("read", "search", "write", "auth")


def parse_retry_after(value, now=None):
    """
    Return the seconds a Retry-After header requests, or None when absent or unreadable.

    Both forms of RFC 9110 are read: a number of seconds, and an HTTP-date.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS):
    """Return a delay for retry number `attempt` (0-based): full jitter over an exponential ceiling."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class EnvironmentCachingSession(requests.Session):
    """
    A requests Session that reads the environment's proxy and CA bundle settings once per scheme and host.

    requests scans every environment variable for proxies on each request,
    which costs more CPU than parsing a small response. The environment of a
    worker does not change while a run sends its requests, so the merged
    settings are kept per (scheme, host, stream, verify, cert) for the
    session's life, keyed also by the session's own proxies, verify and cert.
    A call that passes its own proxies is merged afresh.
    """

    def __init__(self):
        super().__init__()
        self._environment_settings = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if proxies or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (
            parts.scheme,
            parts.netloc,
            stream,
            verify,
            _hashable(cert),
            self.stream,
            self.verify,
            _hashable(self.cert),
            tuple(sorted(self.proxies.items())),
        )
        settings = self._environment_settings.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment_settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


class ProviderSession:
    """
    A requests session bound to one connection of one provider.

    `auth` is a callable returning the headers that authenticate a request.
    `refresh` is a callable that renews the credentials and returns True
    when it did, used once after a 401. `classify` turns a failed response
    into a ProviderError. `throttle` may return seconds to wait after a
    successful response, for tools whose shared limits run low.
    """

    def __init__(
        self,
        provider_name,
        connection_id,
        *,
        label=None,
        auth=None,
        refresh=None,
        classify=None,
        throttle=None,
        max_requests_per_second=None,
        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        max_retries=MAX_RETRIES,
        sleep=time.sleep,
    ):
        self.provider_name = provider_name
        self.label = label or provider_name
        self.connection_id = connection_id
        self.auth = auth or (lambda: {})
        self.refresh = refresh
        self.classify = classify or default_classify
        self.throttle = throttle
        # After the tool's first 429, requests are spaced at least this far
        # apart, for tools that publish a rate but send no Retry-After.
        # Until then nothing waits, as the account may allow more.
        self.min_interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self.last_request_at = None
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.calls = Counter()
        self.rate_limited = 0
        self.session = EnvironmentCachingSession()
        self.session.headers["User-Agent"] = "Oneprofile/0.1 (+https://github.com/oneprofile)"

    def request(self, method, url, *, kind="read", retry_unsafe=False, **kwargs):
        """
        Send a request and return the successful response.

        `kind` (read, search, write or auth) is what the call is counted as.
        Timeouts and connection errors of POST, PUT, PATCH and DELETE are
        only retried with `retry_unsafe`, for writes that are safe to repeat
        (an Idempotency-Key, or a batch update that sets values). Raises
        ProviderError once retries are spent or the response can't be retried.
        """
        kwargs.setdefault("timeout", self.timeout)
        safe_to_repeat = method.upper() in ("GET", "HEAD", "OPTIONS") or retry_unsafe
        refreshed = False
        attempt = 0
        extra_headers = kwargs.pop("headers", None) or {}
        if kwargs.get("params"):
            kwargs["params"] = encode_query(kwargs["params"])
        if "json" in kwargs:
            kwargs["data"] = json_bytes(kwargs.pop("json"))
            extra_headers = {"Content-Type": "application/json", **extra_headers}
        while True:
            # Built afresh on every attempt, so a retry after a refresh
            # carries the new access token.
            kwargs["headers"] = {**self.auth(), **extra_headers}
            self.pace()
            self.calls[kind] += 1
            started = time.monotonic()
            try:
                response = self._send(method, url, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                is_timeout = isinstance(exc, requests.Timeout)
                self._log(method, url, "timeout" if is_timeout else "connection error", started)
                if safe_to_repeat and attempt < self.max_retries:
                    self.sleep(backoff_delay(attempt))
                    attempt += 1
                    continue
                raise ProviderError(
                    FailureCategory.TIMEOUT,
                    f"{self.label} did not answer in time"
                    if is_timeout
                    else f"Could not reach {self.label}: the connection failed",
                ) from None
            self._log(method, url, response.status_code, started)

            if response.status_code == 401 and self.refresh and not refreshed:
                refreshed = True
                if self.refresh():
                    continue
            if response.status_code in RETRYABLE_STATUSES:
                if response.status_code == 429:
                    self.rate_limited += 1
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if attempt < self.max_retries and (wait is None or wait <= MAX_RETRY_AFTER_SECONDS):
                    delay = backoff_delay(attempt)
                    if wait is not None:
                        delay = max(wait, delay)
                    elif response.status_code == 429 and self.min_interval:
                        # A tool that publishes a per-second rate but sends no
                        # Retry-After counts requests over a sliding second:
                        # waiting one second empties it before pacing begins.
                        delay = max(delay, 1.0)
                    self.sleep(delay)
                    attempt += 1
                    continue
            # Redirects are not followed: the tools' APIs don't redirect valid
            # calls, and following one could send credentials to another host.
            if response.status_code >= 300:
                error = self.classify(response)
                if error.retry_after is None:
                    error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise error

            if self.throttle:
                pause = self.throttle(response)
                if pause:
                    self.sleep(pause)
            return response

    def _send(self, method, url, *, params=None, data=None, headers=None, timeout=None):
        """
        Send one request through the session's adapter and return the response, its body read.

        requests.Session.request costs about 240 µs of CPU a request on top of
        its adapter (merging settings, cookies, redirects, runtime protocol
        checks), as much as the rest of a request. An API call needs only the
        environment's proxy and CA settings, read once per host by
        EnvironmentCachingSession, and the session's response hooks, run here.
        Session.request would also look for ~/.netrc, whose entry for the
        tool's host would replace the Authorization header; this never does.
        """
        prepared = requests.Request(
            method, url, params=params, data=data, headers={**self.session.headers, **(headers or {})}
        ).prepare()
        settings = self.session.merge_environment_settings(prepared.url, {}, True, None, None)
        adapter = self.session.get_adapter(prepared.url)
        response = adapter.send(
            prepared,
            stream=True,
            timeout=timeout,
            verify=settings["verify"],
            cert=settings["cert"],
            proxies=settings["proxies"],
        )
        response = dispatch_hook("response", self.session.hooks, response)
        read_body(response)
        return response

    def pace(self):
        """Wait, once the tool has rate-limited this session, until the minimum interval has passed."""
        if not self.min_interval:
            return
        now = time.monotonic()
        if self.rate_limited and self.last_request_at is not None:
            wait = self.last_request_at + self.min_interval - now
            if wait > 0:
                self.sleep(wait)
                now += wait
        self.last_request_at = now

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def json(self, response, decoder=None):
        """
        Return the JSON body of a response, raising a tool error when it is not JSON.

        `decoder` is a msgspec JSON decoder of a typed shape. It serves list
        pages of which only a few attributes are read. A body of another
        shape is a tool error that names the attribute.
        """
        if decoder is not None:
            try:
                return decoder.decode(response.content)
            except msgspec.ValidationError as exc:
                raise ProviderError(
                    FailureCategory.TOOL_ERROR,
                    f"{self.label} sent a response in an unexpected shape: {exc}. The next run "
                    "reads it again. If this persists, report it with this message.",
                    status=response.status_code,
                    response=response.text,
                ) from None
            except msgspec.DecodeError:
                raise self._not_json(response) from None
        try:
            # orjson decodes list pages several times faster than the standard
            # library, and decoding is a large share of a run's CPU time.
            return orjson.loads(response.content)
        except ValueError:
            raise self._not_json(response) from None

    def _not_json(self, response):
        return ProviderError(
            FailureCategory.TOOL_ERROR,
            f"{self.label} sent an answer that is not valid JSON",
            status=response.status_code,
            response=response.text,
        )

    def _log(self, method, url, outcome, started):
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.info(
            "provider=%s connection=%s %s %s -> %s in %.0f ms",
            self.provider_name,
            self.connection_id,
            method,
            urlsplit(url).path,
            outcome,
            elapsed_ms,
        )


def encode_query(params):
    """
    Return query parameters, a dict or a list of pairs, as a query string in which a list value repeats its key.

    requests encodes them the same way, skipping None values, but first
    checks them against a runtime protocol, which costs about 30 µs on
    Python 3.11: as much as parsing a small response.
    """
    if isinstance(params, str | bytes):
        return params
    pairs = []
    for key, values in params.items() if isinstance(params, Mapping) else params:
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        pairs.extend((key, value) for value in values if value is not None)
    return urlencode(pairs)


def read_body(response):
    """
    Read a streamed response's body in one call and set it as `response.content`.

    requests reads a body 10 KB at a time, which costs about as much CPU as
    decoding the JSON of a 300 KB list page. A body cut short raises
    requests' ConnectionError or Timeout, as requests' own reading does. A
    response hook that already read the body leaves nothing to read.
    """
    # requests has no public way to tell whether a streamed body was read, or
    # to set it. Its own reading sets these two attributes.
    if response._content_consumed:
        return
    try:
        body = response.raw.read(decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.Timeout(exc) from exc
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError) as exc:
        raise requests.ConnectionError(exc) from exc
    finally:
        response.close()
    response._content = body or b""
    response._content_consumed = True


DEFAULT_STATUS_CATEGORIES = {
    400: FailureCategory.REJECTED_VALUE,
    401: FailureCategory.AUTHORISATION,
    403: FailureCategory.AUTHORISATION,
    404: FailureCategory.NOT_FOUND,
    409: FailureCategory.DUPLICATE,
    422: FailureCategory.REJECTED_VALUE,
    429: FailureCategory.RATE_LIMITED,
}


def category_for_status(status):
    """Return the failure category that an HTTP status means when the body gives no detail."""
    if status >= 500:
        return FailureCategory.TOOL_ERROR
    return DEFAULT_STATUS_CATEGORIES.get(status, FailureCategory.TOOL_ERROR)


def default_classify(response):
    return ProviderError(
        category_for_status(response.status_code),
        f"The tool answered HTTP {response.status_code}",
        status=response.status_code,
        response=response.text,
    )
