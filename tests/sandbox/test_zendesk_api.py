"""The Zendesk stand-in over loopback HTTP: auth, exports, paging, search, bulk jobs, identities, limits and OAuth."""

import base64
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connections.providers.types import RecordWrite
from connections.providers.zendesk.provider import ZendeskProvider
from sandbox.oauth import pkce_challenge
from sandbox.server import SandboxServer
from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEMO_ZENDESK_AGENT, DEMO_ZENDESK_API_TOKEN

pytestmark = pytest.mark.live_http


def basic(email, token):
    return "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()


@pytest.fixture
def sandbox():
    server = SandboxServer(rate_limits=False, seed=5, customers=120, contacts=100, zendesk_users=150)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def limited():
    server = SandboxServer(rate_limits=True, seed=5, customers=10, contacts=5)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def desk(sandbox):
    return sandbox.state.zendesk_account()


@pytest.fixture
def zendesk(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = basic(DEMO_ZENDESK_AGENT, DEMO_ZENDESK_API_TOKEN)
    session.base = f"{sandbox.url}/zendesk"
    return session


def end_user(desk):
    return next(user for user in desk.users.values() if user.role == "end-user" and user.email and user.active)


def export_all(zendesk, path, key, params):
    items, body = [], None
    while True:
        body = zendesk.get(f"{zendesk.base}{path}", params=params).json()
        items += body[key]
        if body["end_of_stream"]:
            return items, body
        params = {"cursor": body["after_cursor"], "per_page": params.get("per_page", 1000)}


# Authentication


def test_me_returns_the_agent_of_the_api_token(zendesk):
    user = zendesk.get(f"{zendesk.base}/api/v2/users/me.json").json()["user"]
    assert user["email"] == DEMO_ZENDESK_AGENT
    assert user["role"] == "admin"


def test_me_without_credentials_is_anonymous(sandbox):
    user = requests.get(f"{sandbox.url}/zendesk/api/v2/users/me.json").json()["user"]
    assert user["id"] is None
    assert user["name"] == "Anonymous user"


def test_wrong_api_token_is_401(sandbox):
    response = requests.get(f"{sandbox.url}/zendesk/api/v2/users.json",
                            headers={"Authorization": basic(DEMO_ZENDESK_AGENT, "wrong")})
    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}


def test_end_user_gets_403(sandbox, desk):
    response = requests.get(f"{sandbox.url}/zendesk/api/v2/users.json",
                            headers={"Authorization": basic(end_user(desk).email, DEMO_ZENDESK_API_TOKEN)})
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


def test_unknown_path_is_invalid_endpoint(zendesk):
    response = zendesk.get(f"{zendesk.base}/api/v2/nothing.json")
    assert response.status_code == 404
    assert response.json()["error"] == "InvalidEndpoint"


# Incremental exports


def test_user_export_reads_every_user_once(zendesk, desk):
    users, last = export_all(zendesk, "/api/v2/incremental/users/cursor.json", "users",
                             {"start_time": 0, "per_page": 40})
    assert sorted(user["id"] for user in users) == sorted(desk.users)
    assert last["after_cursor"]
    assert last["before_cursor"] is None


def test_user_export_from_last_cursor_is_empty(zendesk):
    _users, last = export_all(zendesk, "/api/v2/incremental/users/cursor.json", "users", {"start_time": 0})
    body = zendesk.get(f"{zendesk.base}/api/v2/incremental/users/cursor.json",
                       params={"cursor": last["after_cursor"]}).json()
    assert body["users"] == []
    assert body["end_of_stream"] is True


def test_user_export_returns_change_after_one_minute(zendesk, desk, sandbox):
    _users, last = export_all(zendesk, "/api/v2/incremental/users/cursor.json", "users", {"start_time": 0})
    user = end_user(desk)
    desk.update_user(user, {"notes": "Called about invoices"})

    hidden = zendesk.get(f"{zendesk.base}/api/v2/incremental/users/cursor.json",
                         params={"cursor": last["after_cursor"]}).json()
    sandbox.state.clock.advance(61)
    shown = zendesk.get(f"{zendesk.base}/api/v2/incremental/users/cursor.json",
                        params={"cursor": last["after_cursor"]}).json()

    assert hidden["users"] == []
    assert [item["id"] for item in shown["users"]] == [user.id]
    assert shown["users"][0]["notes"] == "Called about invoices"


def test_export_rejects_recent_start_time(zendesk, desk):
    response = zendesk.get(f"{zendesk.base}/api/v2/incremental/users/cursor.json",
                           params={"start_time": desk.now() - 10})
    assert response.status_code == 400
    assert "older than 1 minute" in response.json()["description"]


def test_export_rejects_foreign_cursor(zendesk):
    response = zendesk.get(f"{zendesk.base}/api/v2/incremental/users/cursor.json", params={"cursor": "bm9wZQ"})
    assert response.status_code == 400


def test_ticket_export_includes_deleted_tickets(zendesk, desk):
    ticket = next(iter(desk.tickets.values()))
    desk.set_ticket_status(ticket.id, "deleted")
    desk.clock.advance(61)
    tickets, _last = export_all(zendesk, "/api/v2/incremental/tickets/cursor.json", "tickets", {"start_time": 0})
    statuses = {item["id"]: item["status"] for item in tickets}
    assert len(tickets) == len(desk.tickets)
    assert statuses[ticket.id] == "deleted"


def test_organization_export_is_time_based(zendesk, desk):
    body = zendesk.get(f"{zendesk.base}/api/v2/incremental/organizations.json", params={"start_time": 0}).json()
    assert len(body["organizations"]) == len(desk.organizations)
    assert body["end_of_stream"] is True
    assert body["end_time"] == max(item.updated_at for item in desk.organizations.values())


# Lists and paging


def test_cursor_paging_reads_every_user(zendesk, desk):
    seen, params = [], {"page[size]": 50}
    while True:
        body = zendesk.get(f"{zendesk.base}/api/v2/users.json", params=params).json()
        seen += [user["id"] for user in body["users"]]
        if not body["meta"]["has_more"]:
            break
        assert "page%5Bafter%5D" in body["links"]["next"]
        params = {"page[size]": 50, "page[after]": body["meta"]["after_cursor"]}
    assert seen == sorted(desk.users)


def test_cursor_page_size_over_100_is_400(zendesk):
    assert zendesk.get(f"{zendesk.base}/api/v2/users.json", params={"page[size]": 101}).status_code == 400


def test_offset_page_100_is_served(zendesk):
    response = zendesk.get(f"{zendesk.base}/api/v2/users.json", params={"page": 100, "per_page": 1})
    assert response.status_code == 200


def test_offset_page_101_is_400(zendesk):
    response = zendesk.get(f"{zendesk.base}/api/v2/users.json", params={"page": 101, "per_page": 1})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "description": "Pagination limit reached for offset model"}


def test_show_many_leaves_out_unknown_ids(zendesk, desk):
    ids = sorted(desk.users)[:3]
    body = zendesk.get(f"{zendesk.base}/api/v2/users/show_many.json",
                       params={"ids": ",".join(map(str, [*ids, 999]))}).json()
    assert [user["id"] for user in body["users"]] == ids


def test_user_fields_list_dropdown_options(zendesk):
    body = zendesk.get(f"{zendesk.base}/api/v2/user_fields.json", params={"page[size]": 100}).json()
    plan = next(field for field in body["user_fields"] if field["key"] == "plan_tier")
    assert plan["type"] == "dropdown"
    assert [option["value"] for option in plan["custom_field_options"]] == ["starter", "growth", "pro", "enterprise"]
    assert body["meta"]["has_more"] is False


# Search


def test_users_search_joins_email_terms_with_or(zendesk, desk):
    first, second = [user for user in desk.users.values() if user.email][1:3]
    body = zendesk.get(f"{zendesk.base}/api/v2/users/search.json",
                       params={"query": f"email:{first.email} email:{second.email}"}).json()
    assert sorted(user["id"] for user in body["users"]) == sorted([first.id, second.id])
    assert body["count"] == 2


def test_users_search_matches_secondary_email(zendesk, desk):
    user = end_user(desk)
    desk.add_secondary_email(user, "second.address@sandbox.test")
    body = zendesk.get(f"{zendesk.base}/api/v2/users/search.json",
                       params={"query": "email:second.address@sandbox.test"}).json()
    assert [item["id"] for item in body["users"]] == [user.id]


def test_search_rejects_unknown_keyword(zendesk):
    response = zendesk.get(f"{zendesk.base}/api/v2/users/search.json", params={"query": "colour:blue"})
    assert response.status_code == 400
    assert response.json()["error"]["title"] == "Invalid search"


def test_search_past_1000_results_is_422(zendesk):
    response = zendesk.get(f"{zendesk.base}/api/v2/users/search.json",
                           params={"query": "role:end-user", "page": 11, "per_page": 100})
    assert response.status_code == 422


def test_ticket_search_and_count_by_requester(zendesk, desk):
    requester = max(desk.users.values(), key=lambda user: sum(t.requester_id == user.id for t in desk.tickets.values()))
    live = [t for t in desk.tickets.values() if t.requester_id == requester.id and t.status != "deleted"]
    unsolved = [t for t in live if t.status in ("new", "open", "pending", "hold")]
    body = zendesk.get(f"{zendesk.base}/api/v2/search.json", params={
        "query": f"type:ticket requester_id:{requester.id}", "sort_by": "created_at", "sort_order": "desc",
    }).json()
    counted = zendesk.get(f"{zendesk.base}/api/v2/search/count.json",
                          params={"query": f"type:ticket requester_id:{requester.id} status<solved"}).json()
    assert body["count"] == len(live)
    assert {result["result_type"] for result in body["results"]} == {"ticket"}
    assert [r["created_at"] for r in body["results"]] == sorted((r["created_at"] for r in body["results"]), reverse=True)
    assert counted["count"] == len(unsolved)


# Writes


def poll(zendesk, job):
    return zendesk.get(f"{zendesk.base}/api/v2/job_statuses/{job['id']}.json").json()["job_status"]


def test_update_many_is_queued_then_completed(zendesk, desk):
    user = end_user(desk)
    job = zendesk.put(f"{zendesk.base}/api/v2/users/update_many.json",
                      json={"users": [{"id": user.id, "notes": "VIP"}]}).json()["job_status"]
    done = poll(zendesk, job)
    assert job["status"] == "queued"
    assert job["results"] is None
    assert done["status"] == "completed"
    assert done["results"] == [{"id": user.id, "action": "update", "status": "Updated", "success": True}]
    assert user.notes == "VIP"


def test_update_many_reports_each_failure(zendesk, desk):
    good, bad = [user for user in desk.users.values() if user.role == "end-user"][:2]
    job = zendesk.put(f"{zendesk.base}/api/v2/users/update_many.json", json={"users": [
        {"id": good.id, "alias": "G"},
        {"id": bad.id, "phone": "+1 555"},
        {"id": 42, "alias": "nobody"},
    ]}).json()["job_status"]
    results = poll(zendesk, job)["results"]
    assert results[0]["success"] is True
    assert results[1]["error"] == "UserUpdateError"
    assert results[1]["details"] == "Phone: +1 555 is not a valid phone number"
    assert results[2]["error"] == "RecordNotFound"
    assert bad.phone != "+1 555"


def test_update_many_sets_updated_at(zendesk, desk, sandbox):
    user = end_user(desk)
    before = user.updated_at
    sandbox.state.clock.advance(5)
    job = zendesk.put(f"{zendesk.base}/api/v2/users/update_many.json",
                      json={"users": [{"id": user.id, "tags": ["VIP Customer"]}]}).json()["job_status"]
    poll(zendesk, job)
    assert user.updated_at > before
    assert user.tags == ["vip_customer"]


def test_job_waits_while_queued(zendesk, desk, sandbox):
    desk.job_delay_seconds = 30
    user = end_user(desk)
    job = zendesk.put(f"{zendesk.base}/api/v2/users/update_many.json",
                      json={"users": [{"id": user.id, "notes": "later"}]}).json()["job_status"]
    waiting = poll(zendesk, job)
    sandbox.state.clock.advance(31)
    done = poll(zendesk, job)
    assert waiting["status"] == "queued"
    assert done["status"] == "completed"


def test_bulk_over_100_records_is_400(zendesk, desk):
    users = [{"id": user_id, "notes": "x"} for user_id in list(desk.users)[:101]]
    assert zendesk.put(f"{zendesk.base}/api/v2/users/update_many.json", json={"users": users}).status_code == 400


def test_create_or_update_many_matches_by_email(zendesk, desk):
    existing = end_user(desk)
    job = zendesk.post(f"{zendesk.base}/api/v2/users/create_or_update_many.json", json={"users": [
        {"email": existing.email.upper(), "name": "Renamed"},
        {"email": "brand.new@sandbox.test", "name": "Brand New"},
        {"email": "not-an-email", "name": "Broken"},
    ]}).json()["job_status"]
    results = poll(zendesk, job)["results"]
    assert results[0] == {"index": 0, "id": existing.id, "status": "Updated", "email": existing.email,
                          "success": True}
    assert results[1]["status"] == "Created"
    assert results[2]["status"] == "Failed"
    assert existing.name == "Renamed"
    assert desk.user_by_email("brand.new@sandbox.test").name == "Brand New"


def test_update_user_with_bad_time_zone_is_422(zendesk, desk):
    user = end_user(desk)
    response = zendesk.put(f"{zendesk.base}/api/v2/users/{user.id}.json", json={"user": {"time_zone": "Mars/Olympus"}})
    assert response.status_code == 422
    assert response.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"time_zone": [{"description": "Time zone: Mars/Olympus is not included in the list",
                                   "error": "InvalidValue"}]},
    }


def test_create_user_with_taken_email_is_duplicate_value(zendesk, desk):
    taken = end_user(desk).email
    response = zendesk.post(f"{zendesk.base}/api/v2/users.json", json={"user": {"name": "Copy", "email": taken}})
    assert response.status_code == 422
    assert response.json()["details"]["email"][0]["error"] == "DuplicateValue"


def test_custom_dropdown_rejects_unknown_option(zendesk, desk):
    user = end_user(desk)
    response = zendesk.put(f"{zendesk.base}/api/v2/users/{user.id}.json",
                           json={"user": {"user_fields": {"plan_tier": "platinum"}}})
    assert response.status_code == 422
    assert "plan_tier" in response.json()["details"]


# Identities


def test_identity_with_taken_email_is_422(zendesk, desk):
    first, second = [user for user in desk.users.values() if user.role == "end-user" and user.email][:2]
    response = zendesk.post(f"{zendesk.base}/api/v2/users/{first.id}/identities.json",
                            json={"identity": {"type": "email", "value": second.email}})
    assert response.status_code == 422
    assert response.json()["details"]["value"][0]["error"] == "DuplicateValue"


def test_make_primary_changes_the_user_email(zendesk, desk):
    user = end_user(desk)
    old_email = user.email
    identity = zendesk.post(f"{zendesk.base}/api/v2/users/{user.id}/identities.json",
                            json={"identity": {"type": "email", "value": "Moved@Sandbox.test"}}).json()["identity"]
    body = zendesk.put(f"{zendesk.base}/api/v2/users/{user.id}/identities/{identity['id']}/make_primary.json").json()
    primary = [item["value"] for item in body["identities"] if item["primary"]]
    assert primary == ["moved@sandbox.test"]
    assert user.email == "moved@sandbox.test"
    assert old_email in [item["value"] for item in body["identities"]]


# Provider against the sandbox


def provider_for(sandbox):
    connection = SimpleNamespace(
        pk=None, options={"subdomain": "sandboxdemo"}, base_url=f"{sandbox.url}/zendesk",
        get_credentials=lambda: {"email": DEMO_ZENDESK_AGENT, "api_token": DEMO_ZENDESK_API_TOKEN},
    )
    provider = ZendeskProvider(connection)
    provider.http.sleep = lambda seconds: None
    return provider


def test_provider_writes_through_update_many_job(sandbox, desk):
    user = end_user(desk)
    outcomes = provider_for(sandbox).write("user", [RecordWrite(key=user.email, record_id=str(user.id),
                                                                values={"notes": "Synced"})])
    assert outcomes[0].ok is True
    assert user.notes == "Synced"


def test_provider_changes_email_through_identities(sandbox, desk):
    user = end_user(desk)
    old_email = user.email
    outcomes = provider_for(sandbox).write("user", [RecordWrite(key=old_email, record_id=str(user.id),
                                                                values={"email": "changed@sandbox.test"})])
    emails = {identity.value for identity in desk.user_identities(user.id)}
    assert outcomes[0].ok is True
    assert user.email == "changed@sandbox.test"
    assert old_email in emails


def test_provider_finds_users_by_email(sandbox, desk):
    users = [user for user in desk.users.values() if user.email and user.role == "end-user"][:12]
    found = provider_for(sandbox).lookup_by_email("user", [user.email.upper() for user in users], ["name"])
    assert {email: [record.id for record in records] for email, records in found.items()} == {
        user.email: [str(user.id)] for user in users
    }


# Rate limits


def test_201st_request_is_plain_429(limited):
    session = requests.Session()
    session.headers["Authorization"] = basic(DEMO_ZENDESK_AGENT, DEMO_ZENDESK_API_TOKEN)
    minute_start = (int(limited.state.clock.now()) // 60 + 1) * 60
    limited.state.clock.advance(minute_start - limited.state.clock.now() + 1)
    responses = [session.get(f"{limited.url}/zendesk/api/v2/users/me.json") for _ in range(201)]
    last = responses[-1]
    assert [response.status_code for response in responses[:200]] == [200] * 200
    assert last.status_code == 429
    assert last.text == "Rate limit exceeded"
    assert last.headers["Content-Type"].startswith("text/plain")
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    assert responses[0].headers["X-Rate-Limit"] == "200"
    assert responses[199].headers["ratelimit-remaining"] == "0"


def test_11th_export_in_a_minute_is_429(limited):
    session = requests.Session()
    session.headers["Authorization"] = basic(DEMO_ZENDESK_AGENT, DEMO_ZENDESK_API_TOKEN)
    minute_start = (int(limited.state.clock.now()) // 60 + 1) * 60
    limited.state.clock.advance(minute_start - limited.state.clock.now() + 1)
    statuses = [session.get(f"{limited.url}/zendesk/api/v2/incremental/users/cursor.json",
                            params={"start_time": 0}).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_limit_resets_next_minute(limited):
    session = requests.Session()
    session.headers["Authorization"] = basic(DEMO_ZENDESK_AGENT, DEMO_ZENDESK_API_TOKEN)
    for _ in range(201):
        session.get(f"{limited.url}/zendesk/api/v2/users/me.json")
    limited.state.clock.advance(60)
    assert session.get(f"{limited.url}/zendesk/api/v2/users/me.json").status_code == 200


# OAuth


def authorize(sandbox, scope="read write", verifier="v" * 50):
    params = {
        "response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": "http://app.test/callback",
        "scope": scope, "state": "s1", "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
    }
    page = requests.get(f"{sandbox.url}/zendesk/oauth/authorizations/new", params=params)
    assert page.status_code == 200
    agent = sandbox.state.zendesk_account().user_by_email(DEMO_ZENDESK_AGENT)
    decision = requests.post(f"{sandbox.url}/zendesk/oauth/authorizations/new",
                             data={**params, "account": f"sandboxdemo:{agent.id}", "decision": "allow"},
                             allow_redirects=False)
    query = parse_qs(urlsplit(decision.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return requests.post(f"{sandbox.url}/zendesk/oauth/tokens", json={
        "grant_type": "authorization_code", "code": query["code"][0], "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET, "redirect_uri": "http://app.test/callback", "scope": scope,
        "code_verifier": verifier,
    }).json()


def refresh(sandbox, refresh_token):
    return requests.post(f"{sandbox.url}/zendesk/oauth/tokens", json={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    })


def test_oauth_token_opens_the_api(sandbox):
    tokens = authorize(sandbox)
    response = requests.get(f"{sandbox.url}/zendesk/api/v2/users/me.json",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert tokens["token_type"] == "bearer"
    assert tokens["refresh_token_expires_in"] > tokens["expires_in"]
    assert response.json()["user"]["email"] == DEMO_ZENDESK_AGENT


def test_refresh_rotates_the_refresh_token(sandbox):
    tokens = authorize(sandbox)
    renewed = refresh(sandbox, tokens["refresh_token"]).json()
    reused = refresh(sandbox, tokens["refresh_token"])
    old_access = requests.get(f"{sandbox.url}/zendesk/api/v2/users/me.json",
                              headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert old_access.status_code == 401


def test_expired_access_token_is_invalid_token(sandbox):
    tokens = authorize(sandbox)
    sandbox.state.oauth.expire_access_token(tokens["access_token"])
    response = requests.get(f"{sandbox.url}/zendesk/api/v2/users.json",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_wrong_pkce_verifier_is_invalid_grant(sandbox):
    params = {"response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": "http://app.test/cb",
              "scope": "read", "code_challenge": pkce_challenge("a" * 50), "code_challenge_method": "S256"}
    agent = sandbox.state.zendesk_account().user_by_email(DEMO_ZENDESK_AGENT)
    decision = requests.post(f"{sandbox.url}/zendesk/oauth/authorizations/new",
                             data={**params, "account": f"sandboxdemo:{agent.id}", "decision": "allow"},
                             allow_redirects=False)
    code = parse_qs(urlsplit(decision.headers["Location"]).query)["code"][0]
    response = requests.post(f"{sandbox.url}/zendesk/oauth/tokens", json={
        "grant_type": "authorization_code", "code": code, "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET, "redirect_uri": "http://app.test/cb", "code_verifier": "b" * 50,
    })
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_users_scoped_token_cannot_use_identities(sandbox, desk):
    tokens = authorize(sandbox, scope="users:read")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    user = end_user(desk)
    users = requests.get(f"{sandbox.url}/zendesk/api/v2/users.json", headers=headers)
    identities = requests.get(f"{sandbox.url}/zendesk/api/v2/users/{user.id}/identities.json", headers=headers)
    assert users.status_code == 200
    assert identities.status_code == 403


# Seed


def test_seeded_users_overlap_stripe_customers(sandbox, desk):
    stripe_emails = {customer.email for customer in sandbox.state.stripe_account().customers.values() if customer.email}
    matched = {identity.user_id for identity in desk.identities.values() if identity.value in stripe_emails}
    end_users = [user for user in desk.users.values() if user.role == "end-user"]
    assert len(end_users) == 150
    assert len(matched) >= 0.7 * len(end_users)


def test_seeded_users_include_hard_cases(desk):
    secondary_only = [
        user for user in desk.users.values()
        if any(not identity.primary for identity in desk.user_identities(user.id))
    ]
    assert any(user.email is None for user in desk.users.values())
    assert any(not user.active for user in desk.users.values())
    assert secondary_only


def test_seeded_tickets_cover_every_status(desk):
    statuses = {ticket.status for ticket in desk.tickets.values()}
    assert {"new", "open", "pending", "hold", "solved", "closed"} <= statuses


def test_same_seed_gives_same_zendesk_data():
    first, second = (SandboxServer(seed=8, customers=60, contacts=50, now=1_780_000_000).state.zendesk_account() for _ in range(2))
    assert [(u.id, u.email, u.updated_at) for u in first.users.values()] == [
        (u.id, u.email, u.updated_at) for u in second.users.values()
    ]
    assert [(t.requester_id, t.status) for t in first.tickets.values()] == [
        (t.requester_id, t.status) for t in second.tickets.values()
    ]


def test_provider_oauth_exchange_and_rotating_refresh(sandbox):
    agent = sandbox.state.zendesk_account().user_by_email(DEMO_ZENDESK_AGENT)
    base = f"{sandbox.url}/zendesk"
    code = sandbox.state.oauth.issue_code("zendesk", DEFAULT_CLIENT_ID, "http://app.test/cb", "read write",
                                          f"sandboxdemo:{agent.id}", code_challenge=pkce_challenge("c" * 50))
    tokens = ZendeskProvider.exchange_code(code=code, redirect_uri="http://app.test/cb", client_id=DEFAULT_CLIENT_ID,
                                           client_secret=DEFAULT_CLIENT_SECRET, code_verifier="c" * 50, base_url=base)
    renewed = ZendeskProvider.refresh_tokens(refresh_token=tokens.refresh_token, client_id=DEFAULT_CLIENT_ID,
                                             client_secret=DEFAULT_CLIENT_SECRET, base_url=base)
    assert tokens.expires_in == 172_800
    assert renewed.refresh_token != tokens.refresh_token
    assert renewed.extra["refresh_token_expires_in"] == 7_776_000
