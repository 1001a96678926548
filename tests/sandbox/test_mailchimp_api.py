"""The Mailchimp stand-in over loopback HTTP: auth, members, paging, fields=, batch subscribe, errors, limits and OAuth."""

import datetime
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connections.providers.mailchimp.provider import MailchimpProvider
from connections.providers.types import RecordWrite
from sandbox.mailchimp_store import subscriber_hash
from sandbox.server import SandboxServer
from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEMO_MAILCHIMP_API_KEY, DEMO_MAILCHIMP_LIST

pytestmark = pytest.mark.live_http
LIST = DEMO_MAILCHIMP_LIST


@pytest.fixture
def sandbox():
    server = SandboxServer(rate_limits=False, seed=4, customers=150, contacts=100, members=140)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def audience(sandbox):
    return sandbox.state.mailchimp_account().lists[LIST]


@pytest.fixture
def mailchimp(sandbox):
    session = requests.Session()
    session.auth = ("anyone", DEMO_MAILCHIMP_API_KEY)
    session.base = f"{sandbox.url}/mailchimp/3.0"
    return session


def member_with(audience, status):
    return next(member for member in audience.members.values() if member.status == status)


def batch(mailchimp, members, **options):
    body = {"members": members, "update_existing": True, **options}
    return mailchimp.post(f"{mailchimp.base}/lists/{LIST}", json=body)


# Authentication and errors


def test_root_returns_the_account(mailchimp, sandbox):
    body = mailchimp.get(f"{mailchimp.base}/", params={"fields": "account_id,account_name,email"}).json()
    account = sandbox.state.mailchimp_account()
    assert body == {"account_id": account.account_id, "account_name": account.name, "email": account.email}


def test_missing_key_is_problem_detail(sandbox):
    response = requests.get(f"{sandbox.url}/mailchimp/3.0/lists")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["title"] == "API Key Missing"
    assert response.json()["type"].startswith("https://mailchimp.com/developer/")


def test_wrong_key_is_api_key_invalid(sandbox):
    response = requests.get(f"{sandbox.url}/mailchimp/3.0/lists", auth=("x", "f" * 32 + "-us1"))
    assert response.status_code == 401
    assert response.json()["title"] == "API Key Invalid"


def test_unknown_member_is_404(mailchimp):
    response = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members/{subscriber_hash('nobody@sandbox.test')}")
    assert response.status_code == 404
    assert response.json()["title"] == "Resource Not Found"


# Audiences and merge fields


def test_lists_pages_with_count_and_offset(mailchimp):
    body = mailchimp.get(f"{mailchimp.base}/lists", params={"fields": "lists.id,lists.name,total_items"}).json()
    assert body == {"lists": [{"id": LIST, "name": "Sandbox Demo Newsletter"}], "total_items": 1}


def test_merge_fields_describe_plan_choices(mailchimp):
    body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/merge-fields", params={"count": 100}).json()
    plan = next(field for field in body["merge_fields"] if field["tag"] == "PLAN")
    assert [field["tag"] for field in body["merge_fields"]] == ["FNAME", "LNAME", "PLAN", "STATUS", "ADDRESS",
                                                                "PHONE", "BIRTHDAY", "RENEWAL", "SEATS", "WEBSITE"]
    assert plan["options"]["choices"] == ["Starter", "Growth", "Pro"]
    assert body["total_items"] == 10


# Members


def test_member_list_defaults_to_ten(mailchimp, audience):
    body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members").json()
    assert len(body["members"]) == 10
    assert body["total_items"] == len(audience.members)


def test_member_list_pages_to_total_items(mailchimp, audience):
    seen, offset = [], 0
    while True:
        body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members",
                             params={"count": 50, "offset": offset, "fields": "members.id,total_items"}).json()
        seen += [member["id"] for member in body["members"]]
        offset += len(body["members"])
        if offset >= body["total_items"]:
            break
    assert sorted(seen) == sorted(audience.members)
    assert set(body["members"][0]) == {"id"}


def test_member_list_count_over_1000_is_400(mailchimp):
    response = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members", params={"count": 1001})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "count"


def test_since_last_changed_returns_changed_members_only(mailchimp, audience, sandbox):
    sandbox.state.clock.advance(10)
    cutoff = sandbox.state.clock.now() - 1
    member = member_with(audience, "subscribed")
    mailchimp.patch(f"{mailchimp.base}/lists/{LIST}/members/{member.id}", json={"merge_fields": {"FNAME": "Changed"}})
    since = datetime.datetime.fromtimestamp(cutoff, datetime.timezone.utc).isoformat()
    body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members",
                         params={"since_last_changed": since, "count": 1000}).json()
    assert [item["id"] for item in body["members"]] == [member.id]
    assert body["total_items"] == 1


def test_since_last_changed_rejects_bad_time(mailchimp):
    response = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members", params={"since_last_changed": "yesterday"})
    assert response.status_code == 400


def test_sort_by_last_changed(mailchimp):
    body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members", params={
        "count": 1000, "sort_field": "last_changed", "sort_dir": "ASC", "fields": "members.last_changed",
    }).json()
    changes = [member["last_changed"] for member in body["members"]]
    assert changes == sorted(changes)


def test_get_member_by_hash_and_by_email(mailchimp, audience):
    member = member_with(audience, "subscribed")
    by_hash = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members/{member.id}").json()
    by_email = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members/{member.email_address.upper()}").json()
    assert by_hash["email_address"] == member.email_address
    assert by_email["id"] == member.id


def test_exclude_fields_drops_nested_values(mailchimp, audience):
    member = member_with(audience, "subscribed")
    body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members/{member.id}",
                         params={"exclude_fields": "merge_fields,_links,location"}).json()
    assert "merge_fields" not in body
    assert body["id"] == member.id


def test_patch_updates_last_changed(mailchimp, audience, sandbox):
    member = member_with(audience, "subscribed")
    before = member.last_changed
    sandbox.state.clock.advance(30)
    body = mailchimp.patch(f"{mailchimp.base}/lists/{LIST}/members/{member.id}",
                           json={"merge_fields": {"PLAN": "Pro"}}).json()
    assert body["merge_fields"]["PLAN"] == "Pro"
    assert member.last_changed > before


def test_patch_to_subscribed_on_unsubscribed_is_compliance_state(mailchimp, audience):
    member = member_with(audience, "unsubscribed")
    response = mailchimp.patch(f"{mailchimp.base}/lists/{LIST}/members/{member.id}", json={"status": "subscribed"})
    assert response.status_code == 400
    assert response.json()["title"] == "Member In Compliance State"
    assert member.status == "unsubscribed"


def test_patch_with_bad_choice_lists_field_errors(mailchimp, audience):
    member = member_with(audience, "subscribed")
    response = mailchimp.patch(f"{mailchimp.base}/lists/{LIST}/members/{member.id}",
                               json={"merge_fields": {"PLAN": "Enterprise", "BIRTHDAY": "13/40"}})
    assert response.status_code == 400
    assert response.json()["detail"] == "Your merge fields were invalid."
    assert response.json()["errors"] == [
        {"field": "PLAN", "message": "Please choose one of the listed options"},
        {"field": "BIRTHDAY", "message": "Please enter a month (01-12) and a day (01-31)"},
    ]


def test_post_existing_member_is_member_exists(mailchimp, audience):
    member = member_with(audience, "subscribed")
    response = mailchimp.post(f"{mailchimp.base}/lists/{LIST}/members",
                              json={"email_address": member.email_address, "status": "subscribed"})
    assert response.status_code == 400
    assert response.json()["title"] == "Member Exists"


def test_comma_in_address_is_500(mailchimp):
    response = mailchimp.post(f"{mailchimp.base}/lists/{LIST}/members",
                              json={"email_address": "liz,ray@sandbox.test", "status": "subscribed"})
    assert response.status_code == 500
    assert response.json()["title"] == "Internal Server Error"


def test_delete_archives_and_delete_permanent_forgets(mailchimp, audience):
    first, second = [member for member in audience.members.values() if member.status == "subscribed"][:2]
    archived = mailchimp.delete(f"{mailchimp.base}/lists/{LIST}/members/{first.id}")
    forgotten = mailchimp.post(f"{mailchimp.base}/lists/{LIST}/members/{second.id}/actions/delete-permanent")
    again = mailchimp.post(f"{mailchimp.base}/lists/{LIST}/members",
                           json={"email_address": second.email_address, "status": "subscribed"})
    assert archived.status_code == 204
    assert first.status == "archived"
    assert forgotten.status_code == 204
    assert again.json()["title"] == "Forgotten Email Not Subscribed"


def test_tags_endpoint_adds_and_removes(mailchimp, audience):
    member = member_with(audience, "subscribed")
    mailchimp.post(f"{mailchimp.base}/lists/{LIST}/members/{member.id}/tags",
                   json={"tags": [{"name": "vip", "status": "active"}, {"name": "beta", "status": "active"}]})
    mailchimp.post(f"{mailchimp.base}/lists/{LIST}/members/{member.id}/tags",
                   json={"tags": [{"name": "beta", "status": "inactive"}]})
    body = mailchimp.get(f"{mailchimp.base}/lists/{LIST}/members/{member.id}/tags").json()
    assert [tag["name"] for tag in body["tags"]] == ["vip"]


# Batch subscribe


def test_batch_reports_new_updated_and_errors(mailchimp, audience):
    existing = member_with(audience, "subscribed")
    forgotten_email = "gone@sandbox.test"
    audience.forgotten.add(subscriber_hash(forgotten_email))
    body = batch(mailchimp, [
        {"email_address": existing.email_address, "merge_fields": {"STATUS": "active"}},
        {"email_address": "new.person@sandbox.test", "status_if_new": "subscribed"},
        {"email_address": forgotten_email, "status_if_new": "subscribed"},
        {"email_address": "john.doe@example.com", "status_if_new": "subscribed"},
        {"email_address": "josé@sandbox.test", "status_if_new": "subscribed"},
        {"email_address": "sam@sandbox.test", "status_if_new": "subscribed", "merge_fields": {"PLAN": "Gold"}},
    ]).json()
    errors = {error["email_address"]: error for error in body["errors"]}
    assert [member["email_address"] for member in body["updated_members"]] == [existing.email_address]
    assert [member["email_address"] for member in body["new_members"]] == ["new.person@sandbox.test"]
    assert "permanently deleted and cannot be re-imported" in errors[forgotten_email]["error"]
    assert errors["john.doe@example.com"]["error"] == (
        "john.doe@example.com looks fake or invalid, please enter a real email address."
    )
    assert errors["josé@sandbox.test"]["error"] == "Please provide a valid email address."
    assert errors["sam@sandbox.test"]["field"] == "PLAN"
    assert body["error_count"] == 4
    assert body["total_created"] == 1


def test_batch_never_raises_status_of_unsubscribed(mailchimp, audience):
    member = member_with(audience, "unsubscribed")
    body = batch(mailchimp, [{"email_address": member.email_address, "status_if_new": "subscribed",
                              "merge_fields": {"FNAME": "Mona"}}]).json()
    assert body["updated_members"][0]["status"] == "unsubscribed"
    assert member.merge_fields["FNAME"] == "Mona"


def test_batch_status_subscribed_on_cleaned_is_compliance_error(mailchimp, audience):
    member = member_with(audience, "cleaned")
    body = batch(mailchimp, [{"email_address": member.email_address, "status": "subscribed"}]).json()
    assert "compliance state" in body["errors"][0]["error"]
    assert member.status == "cleaned"


def test_batch_without_update_existing_reports_contact_exists(mailchimp, audience):
    member = member_with(audience, "subscribed")
    body = batch(mailchimp, [{"email_address": member.email_address, "status": "subscribed"}],
                 update_existing=False).json()
    assert body["errors"][0]["error_code"] == "ERROR_CONTACT_EXISTS"


def test_batch_over_500_members_is_400(mailchimp):
    members = [{"email_address": f"m{index}@sandbox.test", "status": "subscribed"} for index in range(501)]
    assert batch(mailchimp, members).status_code == 400


def test_batch_bad_status_names_the_item(mailchimp):
    response = batch(mailchimp, [{"email_address": "a@sandbox.test", "status": "subscribed"},
                                 {"email_address": "b@sandbox.test", "status_if_new": "maybe"}])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "members.item:1.status_if_new"


def test_batch_sync_tags_replaces_tags(mailchimp, audience):
    member = member_with(audience, "subscribed")
    batch(mailchimp, [{"email_address": member.email_address, "tags": ["old"]}])
    batch(mailchimp, [{"email_address": member.email_address, "tags": ["new"]}], sync_tags=True)
    assert [tag["name"] for tag in member.tags] == ["new"]


def test_unchanged_batch_keeps_last_changed(mailchimp, audience, sandbox):
    member = member_with(audience, "subscribed")
    before = member.last_changed
    sandbox.state.clock.advance(30)
    batch(mailchimp, [{"email_address": member.email_address, "merge_fields": {"FNAME": member.merge_fields["FNAME"]}}])
    assert member.last_changed == before


# Provider against the sandbox


def provider_for(sandbox):
    connection = SimpleNamespace(pk=None, options={"dc": "us1"}, base_url=f"{sandbox.url}/mailchimp",
                                 get_credentials=lambda: {"api_key": DEMO_MAILCHIMP_API_KEY})
    return MailchimpProvider(connection)


def test_provider_reads_every_member(sandbox, audience):
    provider = provider_for(sandbox)
    pages = list(provider.read_changes(f"members:{LIST}", ["merge_fields.PLAN", "status"]))
    ids = {record.id for page in pages for record in page.records}
    assert ids == set(audience.members)


def test_provider_write_outcomes_carry_mailchimp_reasons(sandbox, audience):
    forgotten_email = "kate@sandbox.test"
    audience.forgotten.add(subscriber_hash(forgotten_email))
    outcomes = provider_for(sandbox).create(f"members:{LIST}", [
        RecordWrite(key="zoe@sandbox.test", record_id=None, values={"merge_fields.FNAME": "Zoë"}),
        RecordWrite(key=forgotten_email, record_id=None, values={}),
        RecordWrite(key="john.doe@example.com", record_id=None, values={}),
    ])
    assert outcomes[0].ok is True
    assert audience.members[subscriber_hash("zoe@sandbox.test")].merge_fields["FNAME"] == "Zoë"
    assert "permanently deleted" in outcomes[1].message
    assert "looks fake or invalid" in outcomes[2].message


# Limits


def test_eleventh_simultaneous_request_is_429():
    server = SandboxServer(rate_limits=True, customers=5, contacts=5)
    server.start()
    try:
        account_id = server.state.mailchimp_account().account_id
        slots = server.app.tools["mailchimp"].slots
        held = [slots.acquire(account_id) for _ in range(10)]
        refused = requests.get(f"{server.url}/mailchimp/3.0/lists", auth=("x", DEMO_MAILCHIMP_API_KEY))
        slots.release(account_id)
        admitted = requests.get(f"{server.url}/mailchimp/3.0/lists", auth=("x", DEMO_MAILCHIMP_API_KEY))
    finally:
        server.stop()
    assert held == [True] * 10
    assert refused.status_code == 429
    assert refused.json()["title"] == "Too Many Requests"
    assert admitted.status_code == 200


# OAuth


def test_oauth_code_token_and_metadata(sandbox):
    params = {"response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": "http://app.test/cb",
              "state": "s9"}
    page = requests.get(f"{sandbox.url}/mailchimp/oauth2/authorize", params=params)
    account_id = sandbox.state.mailchimp_account().account_id
    decision = requests.post(f"{sandbox.url}/mailchimp/oauth2/authorize",
                             data={**params, "account": account_id, "decision": "allow"}, allow_redirects=False)
    code = parse_qs(urlsplit(decision.headers["Location"]).query)["code"][0]
    token = requests.post(f"{sandbox.url}/mailchimp/oauth2/token", data={
        "grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
        "redirect_uri": "http://app.test/cb", "code": code,
    }).json()
    metadata = requests.get(f"{sandbox.url}/mailchimp/oauth2/metadata",
                            headers={"Authorization": f"OAuth {token['access_token']}"}).json()
    lists = requests.get(f"{sandbox.url}/mailchimp/3.0/lists",
                         headers={"Authorization": f"Bearer {token['access_token']}"})
    assert page.status_code == 200
    assert token["expires_in"] == 0
    assert metadata["dc"] == "us1"
    assert metadata["api_endpoint"] == f"{sandbox.url}/mailchimp"
    assert lists.status_code == 200


def test_oauth_reused_code_is_invalid_grant(sandbox):
    account_id = sandbox.state.mailchimp_account().account_id
    code = sandbox.state.oauth.issue_code("mailchimp", DEFAULT_CLIENT_ID, "http://app.test/cb", "", account_id)
    form = {"grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
            "redirect_uri": "http://app.test/cb", "code": code}
    first = requests.post(f"{sandbox.url}/mailchimp/oauth2/token", data=form)
    second = requests.post(f"{sandbox.url}/mailchimp/oauth2/token", data=form)
    assert first.status_code == 200
    assert second.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}


def test_oauth_has_no_refresh_grant(sandbox):
    response = requests.post(f"{sandbox.url}/mailchimp/oauth2/token", data={"grant_type": "refresh_token"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# Seed


def test_seeded_audience_has_every_member_status(audience):
    statuses = {member.status for member in audience.members.values()}
    assert statuses == {"subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"}
    assert len(audience.members) == 140


def test_seeded_members_overlap_stripe_customers(sandbox, audience):
    stripe_emails = {c.email.lower() for c in sandbox.state.stripe_account().customers.values() if c.email}
    matched = [member for member in audience.members.values() if member.email_address.lower() in stripe_emails]
    assert len(matched) >= 0.8 * len(audience.members)


def test_seeded_member_ids_are_hashes(audience):
    assert all(member_id == subscriber_hash(member.email_address) for member_id, member in audience.members.items())
    assert any(member.email_address != member.email_address.lower() for member in audience.members.values())


def test_same_seed_gives_same_mailchimp_data():
    first, second = (
        SandboxServer(seed=8, customers=60, contacts=50, now=1_780_000_000).state.mailchimp_account().lists[LIST] for _ in range(2)
    )
    assert [(m.id, m.status, m.merge_fields, m.last_changed) for m in first.members.values()] == [
        (m.id, m.status, m.merge_fields, m.last_changed) for m in second.members.values()
    ]


def test_provider_oauth_exchange_reads_data_centre(sandbox):
    account_id = sandbox.state.mailchimp_account().account_id
    code = sandbox.state.oauth.issue_code("mailchimp", DEFAULT_CLIENT_ID, "http://app.test/cb", "", account_id)
    tokens = MailchimpProvider.exchange_code(code=code, redirect_uri="http://app.test/cb", client_id=DEFAULT_CLIENT_ID,
                                             client_secret=DEFAULT_CLIENT_SECRET, base_url=f"{sandbox.url}/mailchimp")
    assert tokens.access_token
    assert tokens.expires_in is None
    assert tokens.extra == {"dc": "us1"}
