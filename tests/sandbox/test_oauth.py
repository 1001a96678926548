import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.oauth import pkce_challenge
from sandbox.server import SandboxServer

pytestmark = pytest.mark.live_http

REDIRECT = "http://127.0.0.1:9/oauth/callback"
CLIENT = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}
SCOPES = "oauth crm.objects.contacts.read crm.objects.contacts.write"


@pytest.fixture(scope="module")
def sandbox():
    server = SandboxServer(rate_limits=False, customers=5, contacts=5)
    server.start()
    yield server
    server.stop()


def authorize(sandbox, tool_path, decision="allow", **params):
    page = requests.get(f"{sandbox.url}{tool_path}", params=params)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    account = re.search(r'<option value="([^"]+)"', page.text).group(1)
    response = requests.post(
        f"{sandbox.url}{tool_path}", data={**fields, "account": account, "decision": decision}, allow_redirects=False
    )
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)


def hubspot_code(sandbox, **extra):
    query = authorize(sandbox, "/hubspot/oauth/authorize", client_id="sandbox-client-id",
                      redirect_uri=REDIRECT, scope=SCOPES, state="s1", **extra)
    return query["code"][0]


def hubspot_token(sandbox, **data):
    return requests.post(f"{sandbox.url}/hubspot/oauth/v1/token", data={**CLIENT, **data})


def test_hubspot_consent_page_shows_app_and_buttons(sandbox):
    page = requests.get(f"{sandbox.url}/hubspot/oauth/authorize",
                        params={"client_id": "sandbox-client-id", "redirect_uri": REDIRECT, "scope": SCOPES})
    assert "Oneprofile (sandbox)" in page.text
    assert 'value="allow"' in page.text
    assert 'value="deny"' in page.text
    assert "4242001" in page.text


def test_hubspot_code_flow_grants_tokens_that_work(sandbox):
    code = hubspot_code(sandbox)
    response = hubspot_token(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    tokens = response.json()
    contacts = requests.get(f"{sandbox.url}/hubspot/crm/v3/objects/contacts",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200
    assert tokens["expires_in"] == 1800
    assert tokens["token_type"] == "bearer"
    assert contacts.status_code == 200


def test_hubspot_state_is_returned(sandbox):
    query = authorize(sandbox, "/hubspot/oauth/authorize", client_id="sandbox-client-id",
                      redirect_uri=REDIRECT, scope=SCOPES, state="xyz")
    assert query["state"] == ["xyz"]


def test_hubspot_reused_code_is_bad_auth_code(sandbox):
    code = hubspot_code(sandbox)
    hubspot_token(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    again = hubspot_token(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert again.status_code == 400
    assert again.json()["status"] == "BAD_AUTH_CODE"


def test_hubspot_expired_code_is_bad_auth_code(sandbox):
    code = hubspot_code(sandbox)
    sandbox.state.clock.advance(601)
    response = hubspot_token(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_AUTH_CODE"


def test_hubspot_pkce_verifier_must_match(sandbox):
    verifier = "v" * 50
    challenge = {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    wrong = hubspot_token(sandbox, grant_type="authorization_code", code=hubspot_code(sandbox, **challenge),
                          redirect_uri=REDIRECT, code_verifier="w" * 50)
    missing = hubspot_token(sandbox, grant_type="authorization_code", code=hubspot_code(sandbox, **challenge),
                            redirect_uri=REDIRECT)
    right = hubspot_token(sandbox, grant_type="authorization_code", code=hubspot_code(sandbox, **challenge),
                          redirect_uri=REDIRECT, code_verifier=verifier)
    assert wrong.status_code == 400
    assert wrong.json()["status"] == "BAD_AUTH_CODE"
    assert missing.status_code == 400
    assert right.status_code == 200


def test_hubspot_wrong_secret_is_rejected(sandbox):
    response = requests.post(f"{sandbox.url}/hubspot/oauth/v1/token", data={
        "client_id": "sandbox-client-id", "client_secret": "wrong", "grant_type": "authorization_code",
        "code": hubspot_code(sandbox), "redirect_uri": REDIRECT,
    })
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_CLIENT_SECRET"


def test_hubspot_deny_redirects_with_access_denied(sandbox):
    query = authorize(sandbox, "/hubspot/oauth/authorize", decision="deny", client_id="sandbox-client-id",
                      redirect_uri=REDIRECT, scope=SCOPES, state="s2")
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s2"]
    assert "code" not in query


def test_hubspot_refresh_and_expiry_and_revocation(sandbox):
    tokens = hubspot_token(sandbox, grant_type="authorization_code", code=hubspot_code(sandbox),
                           redirect_uri=REDIRECT).json()
    sandbox.state.oauth.expire_access_token(tokens["access_token"])
    expired = requests.get(f"{sandbox.url}/hubspot/crm/v3/objects/contacts",
                           headers={"Authorization": f"Bearer {tokens['access_token']}"})
    refreshed = hubspot_token(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    works = requests.get(f"{sandbox.url}/hubspot/crm/v3/objects/contacts",
                         headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    sandbox.state.oauth.revoke_refresh_token(tokens["refresh_token"])
    revoked = hubspot_token(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    assert refreshed["access_token"] != tokens["access_token"]
    assert works.status_code == 200
    assert revoked.status_code == 400
    assert revoked.json()["status"] == "BAD_REFRESH_TOKEN"


def test_hubspot_missing_scope_is_403(sandbox):
    query = authorize(sandbox, "/hubspot/oauth/authorize", client_id="sandbox-client-id",
                      redirect_uri=REDIRECT, scope="oauth crm.objects.contacts.read")
    tokens = hubspot_token(sandbox, grant_type="authorization_code", code=query["code"][0],
                           redirect_uri=REDIRECT).json()
    response = requests.post(f"{sandbox.url}/hubspot/crm/v3/objects/contacts/batch/update", json={"inputs": []},
                             headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 403
    assert response.json()["category"] == "MISSING_SCOPES"


def test_unknown_client_gets_error_page(sandbox):
    page = requests.get(f"{sandbox.url}/hubspot/oauth/authorize",
                        params={"client_id": "nobody", "redirect_uri": REDIRECT})
    assert page.status_code == 400
    assert "nobody" in page.text


def stripe_code(sandbox):
    query = authorize(sandbox, "/stripe/connect/oauth/authorize", response_type="code",
                      client_id="sandbox-client-id", scope="read_write", redirect_uri=REDIRECT, state="st")
    assert query["state"] == ["st"]
    return query["code"][0]


def test_stripe_connect_flow_grants_account_access(sandbox):
    response = requests.post(f"{sandbox.url}/stripe/connect/oauth/token", data={
        "grant_type": "authorization_code", "code": stripe_code(sandbox), "client_secret": "sandbox-client-secret",
    })
    tokens = response.json()
    customers = requests.get(f"{sandbox.url}/stripe/v1/customers",
                             headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200
    assert tokens["stripe_user_id"] == "acct_sandboxdemo"
    assert tokens["scope"] == "read_write"
    assert tokens["livemode"] is False
    assert tokens["refresh_token"].startswith("rt_")
    assert customers.status_code == 200


def test_stripe_reused_code_is_invalid_grant(sandbox):
    code = stripe_code(sandbox)
    data = {"grant_type": "authorization_code", "code": code, "client_secret": "sandbox-client-secret"}
    requests.post(f"{sandbox.url}/stripe/connect/oauth/token", data=data)
    again = requests.post(f"{sandbox.url}/stripe/connect/oauth/token", data=data)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_stripe_refresh_grant_and_revocation(sandbox):
    tokens = requests.post(f"{sandbox.url}/stripe/connect/oauth/token", data={
        "grant_type": "authorization_code", "code": stripe_code(sandbox), "client_secret": "sandbox-client-secret",
    }).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_secret": "sandbox-client-secret"}
    refreshed = requests.post(f"{sandbox.url}/stripe/connect/oauth/token", data=refresh)
    sandbox.state.oauth.revoke_refresh_token(tokens["refresh_token"])
    revoked = requests.post(f"{sandbox.url}/stripe/connect/oauth/token", data=refresh)
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != tokens["access_token"]
    assert revoked.status_code == 400
    assert revoked.json()["error"] == "invalid_grant"
