"""
A new member's path through Oneprofile in a real browser, against the sandbox.

One test walks the whole path, because each step needs what the one before
built: sign up, add a workspace, connect Stripe and HubSpot through their
OAuth consent pages, map five fields, preview, run, read the failures, fix
the value map and retry. Each step asserts on what the page shows, and a
few steps also check the stored rows behind it. A screenshot of each main
page goes to test-output/browser/.
"""

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, User, Workspace
from connections.models import Connection
from connections.providers.types import FailureCategory
from syncs.demo import PLAN_VALUE_MAP
from sandbox.state import DEMO_HUBSPOT_PORTAL, DEMO_STRIPE_ACCOUNT
from syncs.models import FieldChange, RecordFailure, Run, Sync

EMAIL = "ana@journey.example.com"
PASSWORD = "a-long-journey-passphrase"
FIRST_WORKSPACE = "Journey Labs"
SECOND_WORKSPACE = "Journey Labs (staging)"
SYNC_NAME = "Billing to CRM"

# (Stripe customer field, HubSpot contact property) in the order a member adds them.
MAPPINGS = [
    ("subscription_status", "subscription_status"),
    ("plan", "plan_tier"),
    ("mrr", "mrr"),
    ("lifetime_revenue", "lifetime_revenue"),
    ("customer_since", "customer_since"),
]
PLAN_ROW = 1
ENTERPRISE_PLANS = {"Enterprise monthly": "pro", "Enterprise yearly": "pro"}


def value_map_text(value_map):
    """Return a value map as the editor shows it: one "source = target" line each, sorted by source."""
    return "\n".join(f"{source} = {target}" for source, target in sorted(value_map.items()))


def owned_workspaces(user):
    return Workspace.objects.filter(memberships__user=user, memberships__role=Membership.Role.OWNER).order_by("pk")


def sign_up(page, site, screenshot):
    page.goto(f"{site}/signup/")
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Workspace name").fill(FIRST_WORKSPACE)
    screenshot("sign-up")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", level=1), "sign-up should land on the new workspace's dashboard").to_have_text(FIRST_WORKSPACE)
    expect(page.get_by_role("status")).to_contain_text(f"You're in {FIRST_WORKSPACE}")
    user = User.objects.get(email=EMAIL)
    assert [workspace.name for workspace in owned_workspaces(user)] == [FIRST_WORKSPACE], "sign-up should create one workspace owned by the new user"
    screenshot("dashboard")


def create_second_workspace_and_switch_back(page, screenshot):
    switcher = page.locator("details.switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("link", name="New workspace…").click()
    expect(page.get_by_role("heading", name="New workspace")).to_be_visible()
    page.get_by_label("Workspace name").fill(SECOND_WORKSPACE)
    screenshot("new-workspace")
    page.get_by_role("button", name="Create workspace").click()

    expect(page.get_by_role("heading", level=1), "creating a workspace should open its dashboard").to_have_text(SECOND_WORKSPACE)
    expect(page.get_by_role("status")).to_contain_text(f"Created the workspace {SECOND_WORKSPACE}")
    owned = [workspace.name for workspace in owned_workspaces(User.objects.get(email=EMAIL))]
    assert owned == [FIRST_WORKSPACE, SECOND_WORKSPACE], "the new workspace should be owned by the member too"

    switcher.locator("summary").click()
    workspaces = switcher.get_by_role("list", name="Your workspaces")
    expect(workspaces.get_by_role("link", name=SECOND_WORKSPACE, exact=True), "the switcher should mark the open workspace").to_have_attribute("aria-current", "true")
    workspaces.get_by_role("link", name=FIRST_WORKSPACE, exact=True).click()
    expect(page.get_by_role("heading", level=1), "the switcher should go back to the first workspace").to_have_text(FIRST_WORKSPACE)


def connect_with_oauth(page, screenshot, tool, account_text):
    """Connect `tool` from the Connections page through the sandbox's consent page, and return the stored connection."""
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="Connect a tool").click()
    expect(page.get_by_role("heading", name="Connect a tool")).to_be_visible()
    if tool == "Stripe":
        screenshot("connect-a-tool")
    page.get_by_role("button", name=f"Log in with {tool}").click()

    expect(page.get_by_role("heading", level=1), f"{tool} should show its sandbox consent page").to_contain_text(
        f"wants to connect to your {tool} sandbox account"
    )
    screenshot(f"{tool.lower()}-consent")
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_role("status"), f"the site should confirm the {tool} connection").to_contain_text(account_text)
    details = page.locator("dl.counts")
    expect(details, f"the connection page should name the {tool} account").to_contain_text(account_text)
    expect(details).to_contain_text("Active")
    expect(details).to_contain_text("OAuth")
    screenshot(f"{tool.lower()}-connection")
    return Connection.objects.get(workspace__name=FIRST_WORKSPACE, provider=tool.lower())


def connections_list_shows_both(page, screenshot):
    page.get_by_role("link", name="Back to connections").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connections")
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows, "the list should hold the Stripe and the HubSpot connection").to_have_count(2)
    for account_text in ("Sandbox Demo Inc.", f"HubSpot portal {DEMO_HUBSPOT_PORTAL}"):
        expect(rows.filter(has_text=account_text), f"{account_text} should be listed as active").to_contain_text("Active")
    screenshot("connections")


def sandbox_codes(sandbox, tool):
    return [code for code in sandbox.state.oauth.codes.values() if code.tool == tool]


def choose_option_ending(select, suffix):
    labels = select.locator("option").all_inner_texts()
    matches = [label for label in labels if label.strip().endswith(suffix)]
    assert len(matches) == 1, f"expected one option ending in {suffix!r}, found {matches} among {labels}"
    select.select_option(label=matches[0].strip())


def choose_field(row, side, value):
    row.locator(f"select[name$='-field_{side}']").select_option(value)


def create_sync(page, screenshot):
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Syncs").click()
    page.get_by_role("link", name="New sync").click()
    expect(page.get_by_role("heading", name="New sync")).to_be_visible()
    page.get_by_label("Name").fill(SYNC_NAME)
    choose_option_ending(page.get_by_label("Side A"), "Stripe customers")
    choose_option_ending(page.get_by_label("Side B"), "HubSpot contacts")
    screenshot("new-sync-sides")
    page.get_by_role("button", name="Next: map fields").click()

    expect(page.get_by_text("Step 2 of 2")).to_be_visible()
    rows = page.locator("table").first.locator("tbody tr")
    while rows.count() < len(MAPPINGS):
        page.get_by_role("button", name="Add row").click()
        expect(page.get_by_text("Step 2 of 2")).to_be_visible()
        expect(page.locator("table.mappings .error"), "adding a row should not flag the blank rows as errors").to_have_count(0)
    for index, (stripe_field, hubspot_property) in enumerate(MAPPINGS):
        row = rows.nth(index)
        choose_field(row, "a", stripe_field)
        choose_field(row, "b", hubspot_property)
    rows.nth(PLAN_ROW).locator("textarea").fill(value_map_text(PLAN_VALUE_MAP))
    screenshot("new-sync-mappings")
    page.get_by_role("button", name="Create the sync").click()

    expect(page.get_by_role("status"), "creating the sync should confirm its five mappings").to_contain_text(
        f"Created the sync {SYNC_NAME} with {len(MAPPINGS)} field mappings"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(SYNC_NAME)
    mapping_rows = page.get_by_role("table").first.locator("tbody tr")
    expect(mapping_rows, "the sync page should list the five mappings").to_have_count(len(MAPPINGS))
    expect(mapping_rows.nth(PLAN_ROW), "the plan mapping should show its value map").to_contain_text("Pro monthly → pro")
    screenshot("sync-detail")

    sync = Sync.objects.get(name=SYNC_NAME)
    stored = [(mapping.source_field, mapping.destination_field) for mapping in sync.mappings.all()]
    assert stored == MAPPINGS, "the sync should store the five mappings in order"
    plan_transform = sync.mappings.get(destination_field="plan_tier").transform
    assert plan_transform == {"value_map": PLAN_VALUE_MAP}, "the plan mapping should store the value map without Enterprise plans"


def preview(page, screenshot):
    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Preview of {SYNC_NAME}")
    writes = page.get_by_role("table").first
    expect(writes.locator("thead"), "the preview should show each field before and after").to_contain_text("Before")
    expect(writes.locator("thead")).to_contain_text("After")
    expect(writes.locator("tbody tr").first, "the preview should list at least one write").to_be_visible()
    would_fail = page.get_by_role("table").nth(1)
    expect(would_fail, "the preview should warn that Enterprise plans would fail").to_contain_text("Enterprise")
    screenshot("preview")


def run_now(page, screenshot):
    page.get_by_role("link", name="Back to the sync").click()
    page.get_by_role("button", name="Run now").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run of {SYNC_NAME}")
    expect(page.get_by_role("status")).to_contain_text(f"Started a run of {SYNC_NAME}")
    expect(page.locator("p.lead"), "the run should have finished inside the request").to_contain_text("Manual run, finished with failures")
    run = Run.objects.get(sync__name=SYNC_NAME, trigger=Run.Trigger.MANUAL)
    counts = page.locator("dl.counts").first
    expect(counts.locator("div", has_text="Updated"), "the run page should show the stored updated count").to_contain_text(str(run.updated_count))
    expect(counts.locator("div", has_text="Failed")).to_contain_text(str(run.failed_count))
    screenshot("run")
    return run


def record_history_shows_written_value(page, sandbox, screenshot, run):
    change = FieldChange.objects.filter(run=run, field="plan_tier").order_by("record_key").first()
    assert change is not None, "the first run should have written some plan_tier"
    contact = sandbox.state.hubspot_portal().find_by_property("contacts", "email", change.record_key)[0]
    assert contact.properties.get("plan_tier") == change.new_value, "HubSpot should hold the plan tier the run recorded"

    page.get_by_role("link", name="Back to the sync").click()
    page.get_by_role("link", name="Record history").click()
    page.get_by_label("Email").fill(change.record_key)
    page.get_by_role("button", name="Search").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Record history")
    changes = page.get_by_role("table").filter(has_text="plan_tier")
    plan_row = changes.locator("tbody tr", has_text="plan_tier")
    expect(plan_row, f"the history of {change.record_key} should show its new plan tier").to_contain_text(change.new_value)
    expect(plan_row).to_contain_text("Manual run")
    screenshot("record-history")


def open_type_mismatches():
    return RecordFailure.objects.filter(
        sync__name=SYNC_NAME,
        category=FailureCategory.TYPE_MISMATCH,
        status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING],
    )


def failures_explain_type_mismatches(page, screenshot):
    page.get_by_role("main").get_by_role("link", name=SYNC_NAME).first.click()
    page.locator("dl.counts div", has_text="Open failures").get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Failures of {SYNC_NAME}")
    stored = open_type_mismatches().count()
    categories = page.get_by_role("table").first
    mismatch_row = categories.locator("tbody tr", has_text="Type mismatch")
    expect(mismatch_row, "the category table should count the stored type mismatches").to_contain_text(str(stored))
    section = page.get_by_role("table").filter(has_text="Enterprise monthly")
    expect(section, "a failure should name the Enterprise plan and the allowed plan tiers").to_contain_text(
        "'Enterprise monthly' is not an option (allowed values are starter, growth, pro)"
    )
    expect(section, "a failure should name the paused status and the allowed statuses").to_contain_text(
        "'paused' is not an option (allowed values are active"
    )
    screenshot("failures")
    return stored


def fix_plan_value_map(page, screenshot):
    page.get_by_role("link", name="Back to the sync").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_text("Step 2 of 2")).to_be_visible()
    plan_row = page.locator("table").first.locator("tbody tr").nth(PLAN_ROW)
    value_map = plan_row.locator("textarea")
    expect(value_map, "the editor should show the saved plan value map").to_have_value(value_map_text(PLAN_VALUE_MAP))
    value_map.fill(value_map_text({**PLAN_VALUE_MAP, **ENTERPRISE_PLANS}))
    screenshot("edit-value-map")
    page.get_by_role("button", name="Save the sync").click()

    expect(page.get_by_role("status")).to_contain_text(f"Saved the sync {SYNC_NAME} with {len(MAPPINGS)} field mappings")
    plan_mapping = page.get_by_role("table").first.locator("tbody tr").nth(PLAN_ROW)
    expect(plan_mapping, "the sync page should show the Enterprise plans mapped to pro").to_contain_text("Enterprise monthly → pro")
    expect(plan_mapping).to_contain_text("Enterprise yearly → pro")
    plan_transform = Sync.objects.get(name=SYNC_NAME).mappings.get(destination_field="plan_tier").transform
    assert plan_transform == {"value_map": {**PLAN_VALUE_MAP, **ENTERPRISE_PLANS}}, "the fixed value map should be stored"


def retry_type_mismatches(page, sandbox, screenshot, open_before):
    enterprise_only = [
        failure for failure in open_type_mismatches() if "Enterprise" in failure.message and "'paused'" not in failure.message
    ]
    assert enterprise_only, "the first run should have failed some Enterprise customers for their plan alone"

    page.locator("dl.counts div", has_text="Open failures").get_by_role("link").click()
    mismatch_row = page.get_by_role("table").first.locator("tbody tr", has_text="Type mismatch")
    mismatch_row.get_by_role("button", name=f"Retry all {open_before}").click()

    expect(page.get_by_role("status")).to_contain_text(f"Retrying the type mismatch failures ({open_before}) in a new run")
    expect(page.locator("p.lead"), "the retry run should have finished inside the request").to_contain_text("Retry run")
    screenshot("retry-run")

    page.get_by_role("link", name="Back to the sync").click()
    open_after = open_type_mismatches().count()
    assert open_after < open_before, "retrying after the value map fix should leave fewer open type mismatches"
    failures_link = page.locator("dl.counts div", has_text="Open failures").get_by_role("link")
    expect(failures_link, "the sync page should count fewer open failures").to_have_text(str(RecordFailure.objects.filter(
        sync__name=SYNC_NAME, status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING]
    ).count()))
    failures_link.click()
    mismatch_row = page.get_by_role("table").first.locator("tbody tr", has_text="Type mismatch")
    expect(mismatch_row, "only the paused subscriptions should stay open").to_contain_text(str(open_after))
    expect(page.get_by_role("table").filter(has_text="'paused'").first).to_be_visible()
    for failure in enterprise_only:
        expect(page.locator("main"), f"{failure.record_key} failed for its plan alone, so it should no longer be open").not_to_contain_text(
            failure.record_key
        )
    screenshot("failures-after-retry")

    page.get_by_role("navigation", name="Failure status").get_by_role("link", name="Resolved").click()
    resolved_table = page.get_by_role("table").filter(has_text=enterprise_only[0].record_key)
    expect(resolved_table.locator("tbody tr", has_text=enterprise_only[0].record_key), "the Enterprise failure should be listed as resolved").to_contain_text("Resolved")
    screenshot("failures-resolved")

    for failure in enterprise_only:
        failure.refresh_from_db()
        assert failure.status == RecordFailure.Status.RESOLVED, f"the failure of {failure.record_key} should be resolved"
        contact = sandbox.state.hubspot_portal().find_by_property("contacts", "email", failure.record_key)[0]
        assert contact.properties.get("plan_tier") == "pro", f"HubSpot should now hold plan tier pro for {failure.record_key}"


def syncs_list_counts_open_failures(page, screenshot):
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Syncs").click()
    row = page.get_by_role("table").locator("tbody tr", has_text=SYNC_NAME)
    open_failures = RecordFailure.objects.filter(
        sync__name=SYNC_NAME, status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING]
    ).count()
    expect(row.locator("td").last, "the syncs list should count the failures still open").to_have_text(str(open_failures))
    expect(row, "the syncs list should show how the last run ended").to_contain_text("Finished with failures")
    screenshot("syncs")


@pytest.mark.browser
@pytest.mark.live_http
@pytest.mark.django_db(transaction=True)
def test_journey_signup_to_retried_failures(page, site, sandbox, screenshot):
    # 1. Sign up, which creates the first workspace.
    sign_up(page, site, screenshot)

    # 2. Create a second workspace from the switcher, then switch back.
    create_second_workspace_and_switch_back(page, screenshot)

    # 3. Connect Stripe through its consent page.
    stripe = connect_with_oauth(page, screenshot, "Stripe", "Sandbox Demo Inc.")
    assert stripe.auth_method == Connection.AuthMethod.OAUTH, "Stripe should be connected with OAuth"
    assert stripe.account_id == DEMO_STRIPE_ACCOUNT, "Stripe should be connected to the account allowed on the consent page"

    # 4. Connect HubSpot the same way, with a PKCE challenge on its authorization code.
    hubspot = connect_with_oauth(page, screenshot, "HubSpot", str(DEMO_HUBSPOT_PORTAL))
    assert hubspot.account_id == str(DEMO_HUBSPOT_PORTAL), "HubSpot should be connected to the portal allowed on the consent page"
    hubspot_codes = sandbox_codes(sandbox, "hubspot")
    assert [code.used for code in hubspot_codes] == [True], "the site should redeem HubSpot's one authorization code"
    assert hubspot_codes[0].code_challenge, "the HubSpot authorization should carry a PKCE code_challenge"
    connections_list_shows_both(page, screenshot)

    # 5. Map five fields from Stripe customers to HubSpot contacts, leaving Enterprise plans unmapped.
    create_sync(page, screenshot)

    # 6. Preview the first run.
    preview(page, screenshot)

    # 7. Run it, and find a written value in the record history.
    run = run_now(page, screenshot)
    assert run.updated_count > 0, "the first run should update HubSpot contacts"
    assert run.failed_count > 0, "the first run should fail Enterprise plans and paused subscriptions"
    record_history_shows_written_value(page, sandbox, screenshot, run)

    # 8. Read why records failed.
    open_before = failures_explain_type_mismatches(page, screenshot)

    # 9. Map the Enterprise plans, retry the type mismatches, and see them resolved.
    fix_plan_value_map(page, screenshot)
    retry_type_mismatches(page, sandbox, screenshot, open_before)
    syncs_list_counts_open_failures(page, screenshot)
