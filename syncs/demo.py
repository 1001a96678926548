"""
The demo workspace: sandbox connections and the syncs small teams set up first.

Used by `manage.py demo`, the end-to-end tests and the benchmark, so that
all three exercise the same set-up a member would build on the pages.
"""

from collections import Counter

from django.db import transaction

from accounts.models import Membership, Plan, User, Workspace, create_workspace
from connections.models import Connection
from syncs.models import Direction, FieldMapping, Run, Sync
from syncs.runner import execute_run
from syncs.services import start_run

DEMO_EMAIL = "demo@oneprofile.test"
DEMO_PASSWORD = "demo-password-1234"
DEMO_WORKSPACE = "Demo Company"

# Sandbox credentials seeded by sandbox.state; they open nothing outside the sandbox.
STRIPE_KEY = "rk_test_sandbox_demo"
HUBSPOT_TOKEN = "pat-sandbox-demo"
ZENDESK_SUBDOMAIN = "sandboxdemo"
ZENDESK_AGENT_EMAIL = "agent@sandboxdemo.test"
ZENDESK_API_TOKEN = "zendesk-sandbox-token"
MAILCHIMP_API_KEY = "0123456789abcdef0123456789abcdef-us1"
MAILCHIMP_AUDIENCE = "members:d3m0a1b2c3"

# Stripe's plan is the price nickname; HubSpot's plan_tier has no option
# for Enterprise, so Enterprise customers fail with a clear reason until a
# member maps them.
PLAN_VALUE_MAP = {
    "Starter monthly": "starter",
    "Starter yearly": "starter",
    "Growth monthly": "growth",
    "Growth yearly": "growth",
    "Pro monthly": "pro",
    "Pro yearly": "pro",
}

# (Stripe field, HubSpot property, transform): the five fields teams look up most.
STRIPE_TO_HUBSPOT = [
    ("subscription_status", "subscription_status", {}),
    ("plan", "plan_tier", {"value_map": PLAN_VALUE_MAP}),
    ("mrr", "mrr", {}),
    ("lifetime_revenue", "lifetime_revenue", {}),
    ("customer_since", "customer_since", {}),
]


# (Zendesk field, HubSpot property, transform): each contact's support history.
ZENDESK_TO_HUBSPOT = [
    ("ticket_count", "ticket_count", {}),
    ("open_ticket_count", "open_ticket_count", {}),
    ("last_ticket_date", "last_ticket_date", {}),
]

# Mailchimp's PLAN dropdown offers Starter, Growth and Pro, so Enterprise
# customers fail with a clear reason until a member adds the option.
MAILCHIMP_PLAN_MAP = {
    "Starter monthly": "Starter",
    "Starter yearly": "Starter",
    "Growth monthly": "Growth",
    "Growth yearly": "Growth",
    "Pro monthly": "Pro",
    "Pro yearly": "Pro",
}

# (Stripe field, Mailchimp merge field, transform): plan and billing state for campaign segments.
STRIPE_TO_MAILCHIMP = [
    ("plan", "merge_fields.PLAN", {"value_map": MAILCHIMP_PLAN_MAP}),
    ("subscription_status", "merge_fields.STATUS", {}),
]


def demo_user():
    user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
    if user is None:
        user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, name="Demo User")
    return user


@transaction.atomic
def reset_demo_workspace(sandbox_url):
    """
    Create the demo workspace afresh, with sandbox connections and the demo syncs.

    An earlier demo workspace is removed first: the sandbox starts from its
    seed every time, so cursors and record links of an earlier demo would
    point at records that no longer exist.
    """
    user = demo_user()
    for workspace in Workspace.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.OWNER, name=DEMO_WORKSPACE
    ):
        for sync in workspace.syncs.all():
            sync.delete()
        workspace.delete()
    workspace = create_workspace(DEMO_WORKSPACE, user)
    workspace.plan = Plan.objects.filter(code="business").first() or workspace.plan
    workspace.save(update_fields=["plan"])

    stripe = connect(workspace, user, "stripe", "Stripe (sandbox)", f"{sandbox_url}/stripe", STRIPE_KEY)
    hubspot = connect(workspace, user, "hubspot", "HubSpot (sandbox)", f"{sandbox_url}/hubspot", HUBSPOT_TOKEN)
    zendesk = connect(
        workspace, user, "zendesk", "Zendesk (sandbox)", f"{sandbox_url}/zendesk",
        credentials={"email": ZENDESK_AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN},
        options={"subdomain": ZENDESK_SUBDOMAIN},
    )
    mailchimp = connect(
        workspace, user, "mailchimp", "Mailchimp (sandbox)", f"{sandbox_url}/mailchimp", MAILCHIMP_API_KEY,
        options={"dc": MAILCHIMP_API_KEY.rpartition("-")[2]},
    )
    syncs = [
        create_sync(workspace, user, "Stripe customers → HubSpot contacts", stripe, "customer", hubspot, "contact",
                    STRIPE_TO_HUBSPOT),
        create_sync(workspace, user, "Zendesk users → HubSpot contacts", zendesk, "user", hubspot, "contact",
                    ZENDESK_TO_HUBSPOT),
        create_sync(workspace, user, "Stripe customers → Mailchimp audience", stripe, "customer", mailchimp,
                    MAILCHIMP_AUDIENCE, STRIPE_TO_MAILCHIMP),
    ]
    return workspace, syncs


def connect(workspace, user, provider, name, base_url, api_key=None, credentials=None, options=None):
    """
    Create an API-key connection to a sandbox tool and verify it, as the connect page does.

    `credentials` replaces {"api_key": api_key} for tools that sign in with
    more than a key (Zendesk: an agent's email and API token).
    """
    connection = Connection(
        workspace=workspace,
        provider=provider,
        display_name=name,
        auth_method=Connection.AuthMethod.API_KEY,
        base_url=base_url,
        options=options or {},
        created_by=user,
    )
    connection.set_credentials(credentials or {"api_key": api_key})
    connection.save()
    connection.verify()
    return connection


def create_sync(workspace, user, name, source, source_object, destination, destination_object, mappings):
    sync = Sync.objects.create(
        workspace=workspace,
        name=name,
        connection_a=source,
        object_a=source_object,
        connection_b=destination,
        object_b=destination_object,
        created_by=user,
    )
    FieldMapping.objects.bulk_create(
        FieldMapping(
            sync=sync,
            direction=Direction.A_TO_B,
            source_field=source_field,
            destination_field=destination_field,
            transform=transform,
            position=position,
        )
        for position, (source_field, destination_field, transform) in enumerate(mappings)
    )
    return sync


def run_once(sync):
    """Run a sync now, in this process, and return the finished run."""
    run, _ = start_run(sync, Run.Trigger.MANUAL, queue=False)
    return execute_run(run.pk)


def summarize(run):
    """Return a run's outcome as the plain dict `demo --json` prints."""
    categories = Counter(run.failures.values_list("category", flat=True))
    calls = run.api_calls or {}
    return {
        "sync": run.sync.name,
        "run": str(run.public_id),
        "status": run.status,
        "read": run.read_count,
        "matched": run.matched_count,
        "unmatched": run.unmatched_count,
        "unchanged": run.unchanged_count,
        "updated": run.updated_count,
        "created": run.created_count,
        "failed": run.failed_count,
        "failures_by_category": dict(sorted(categories.items())),
        "api_calls": {
            "read": calls.get("read", 0) + calls.get("search", 0),
            "write": calls.get("write", 0),
        },
        "seconds": round(run.duration.total_seconds(), 2) if run.duration else None,
        "error": run.error,
    }
