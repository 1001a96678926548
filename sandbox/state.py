"""
In-memory state of the sandbox: tool accounts, OAuth grants, request counters.

Tests and scripts read and change data through `SandboxState` directly, for
example `state.stripe_account().update_customer(...)`, which also records the
Stripe events a real change would emit.
"""

import threading
import time
from collections import Counter

from sandbox.hubspot_store import HubSpotPortal
from sandbox.mailchimp_store import MailchimpAccount
from sandbox.oauth import OAuthServer
from sandbox.stripe_store import StripeAccount
from sandbox.zendesk_store import ZendeskAccount

DEMO_STRIPE_ACCOUNT = "acct_sandboxdemo"
DEMO_STRIPE_SECRET_KEY = "sk_test_sandbox_demo"
DEMO_STRIPE_RESTRICTED_KEY = "rk_test_sandbox_demo"
DEMO_HUBSPOT_PORTAL = 4242001
DEMO_HUBSPOT_TOKEN = "pat-sandbox-demo"
DEMO_ZENDESK_SUBDOMAIN = "sandboxdemo"
DEMO_ZENDESK_AGENT = "agent@sandboxdemo.test"
DEMO_ZENDESK_API_TOKEN = "zendesk-sandbox-token"
DEMO_MAILCHIMP_ACCOUNT = "5a1d3e0b9c7f2e4d6a8b0c1d2"
# Mailchimp API keys are 32 hexadecimal characters, a dash and the data centre.
DEMO_MAILCHIMP_API_KEY = "0123456789abcdef0123456789abcdef-us1"
DEMO_MAILCHIMP_LIST = "d3m0a1b2c3"
DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"

# Permissions of the demo restricted key, by Stripe resource: enough to sync
# customers both ways and read billing data, as a minimum-privilege key would.
DEMO_RESTRICTED_PERMISSIONS = {
    "account": "read",
    "customers": "write",
    "subscriptions": "read",
    "invoices": "read",
    "products": "read",
    "prices": "read",
    "events": "read",
}


class Clock:
    """Wall-clock time in Unix seconds that tests can move forward."""

    def __init__(self):
        self.offset = 0.0

    def now(self):
        return time.time() + self.offset

    def advance(self, seconds):
        self.offset += seconds


class StripeKey:
    """A Stripe API key: its account and, for restricted keys, its permissions."""

    def __init__(self, key, account_id, permissions=None):
        self.key = key
        self.account_id = account_id
        self.permissions = permissions
        self.expired = False

    def allows(self, resource, access):
        if self.permissions is None:
            return True
        granted = self.permissions.get(resource)
        return granted == "write" or (granted == "read" and access == "read")


class RequestCounters:
    """Requests served per tool, endpoint and kind (read, search, write), and 429s."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_endpoint = Counter()
        self.by_kind = Counter()
        self.rate_limited = Counter()

    def record(self, tool, endpoint, kind, status):
        with self._lock:
            self.by_endpoint[(tool, endpoint)] += 1
            self.by_kind[(tool, kind)] += 1
            if status == 429:
                self.rate_limited[tool] += 1

    def snapshot(self):
        """Return plain dicts of the counts, keyed `"tool METHOD /path"` and `"tool kind"`."""
        with self._lock:
            return {
                "endpoints": {f"{tool} {endpoint}": n for (tool, endpoint), n in self.by_endpoint.items()},
                "kinds": {f"{tool} {kind}": n for (tool, kind), n in self.by_kind.items()},
                "rate_limited": dict(self.rate_limited),
            }

    def count(self, tool, kind=None, endpoint=None):
        """Return the requests served for `tool`, narrowed to one kind or one endpoint."""
        with self._lock:
            if endpoint is not None:
                return self.by_endpoint[(tool, endpoint)]
            if kind is not None:
                return self.by_kind[(tool, kind)]
            return sum(n for (name, _), n in self.by_kind.items() if name == tool)

    def reset(self):
        with self._lock:
            self.by_endpoint.clear()
            self.by_kind.clear()
            self.rate_limited.clear()


class SandboxState:
    """Every account of every tool stand-in, the OAuth server and the counters."""

    def __init__(self, seed=0):
        self.seed = seed
        self.clock = Clock()
        self.counters = RequestCounters()
        self.oauth = OAuthServer(self.clock)
        self.stripe_accounts = {}
        self.stripe_keys = {}
        self.hubspot_portals = {}
        self.hubspot_private_tokens = {}
        self.zendesk_accounts = {}
        self.zendesk_api_tokens = {}
        self.mailchimp_accounts = {}
        self.mailchimp_api_keys = {}
        self._lock = threading.RLock()
        for tool in ("stripe", "hubspot", "zendesk", "mailchimp"):
            self.oauth.register_app(tool, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "Oneprofile (sandbox)")

    # Stripe

    def add_stripe_account(self, account_id, name, email, secret_key=None, restricted_key=None):
        """Create an empty Stripe account, with a secret key and an optional restricted key."""
        with self._lock:
            if account_id in self.stripe_accounts:
                raise ValueError(f"Stripe account {account_id} already exists; pick another id.")
            account = StripeAccount(account_id, name=name, email=email, clock=self.clock, seed=self.seed)
            self.stripe_accounts[account_id] = account
            if secret_key:
                self.stripe_keys[secret_key] = StripeKey(secret_key, account_id)
            if restricted_key:
                self.stripe_keys[restricted_key] = StripeKey(
                    restricted_key, account_id, dict(DEMO_RESTRICTED_PERMISSIONS)
                )
            return account

    def stripe_account(self, account_id=DEMO_STRIPE_ACCOUNT):
        return self.stripe_accounts[account_id]

    def expire_stripe_key(self, key):
        """Make Stripe return 401 "Expired API Key provided" for `key` from now on."""
        self.stripe_keys[key].expired = True

    # HubSpot

    def add_hubspot_portal(self, portal_id, name, private_app_token=None, time_zone="US/Eastern"):
        """Create an empty HubSpot portal, with an optional private-app token."""
        with self._lock:
            if portal_id in self.hubspot_portals:
                raise ValueError(f"HubSpot portal {portal_id} already exists; pick another id.")
            portal = HubSpotPortal(portal_id, name=name, clock=self.clock, time_zone=time_zone)
            self.hubspot_portals[portal_id] = portal
            if private_app_token:
                self.hubspot_private_tokens[private_app_token] = portal_id
            return portal

    def hubspot_portal(self, portal_id=DEMO_HUBSPOT_PORTAL):
        return self.hubspot_portals[portal_id]

    # Zendesk

    def add_zendesk_account(self, subdomain, name, admin_email=None, api_token=None):
        """Create a Zendesk account with an admin user (when `admin_email` is given) and an optional API token."""
        with self._lock:
            if subdomain in self.zendesk_accounts:
                raise ValueError(f"Zendesk account {subdomain} already exists; pick another subdomain.")
            account = ZendeskAccount(subdomain, name, clock=self.clock)
            self.zendesk_accounts[subdomain] = account
            if admin_email:
                account.add_user("Sandbox Admin", email=admin_email, role="admin",
                                 created_at=self.clock.now() - 3 * 365 * 86400)
            if api_token:
                self.zendesk_api_tokens[api_token] = subdomain
            return account

    def zendesk_account(self, subdomain=DEMO_ZENDESK_SUBDOMAIN):
        return self.zendesk_accounts[subdomain]

    # Mailchimp

    def add_mailchimp_account(self, account_id, name, email, dc="us1", api_key=None):
        """Create an empty Mailchimp account, with an optional API key."""
        with self._lock:
            if account_id in self.mailchimp_accounts:
                raise ValueError(f"Mailchimp account {account_id} already exists; pick another id.")
            account = MailchimpAccount(account_id, name, email, dc, clock=self.clock)
            self.mailchimp_accounts[account_id] = account
            if api_key:
                self.mailchimp_api_keys[api_key] = account_id
            return account

    def mailchimp_account(self, account_id=DEMO_MAILCHIMP_ACCOUNT):
        return self.mailchimp_accounts[account_id]
