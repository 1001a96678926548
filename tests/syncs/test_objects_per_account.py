"""The sync editor offers each connection's own objects, such as a Mailchimp account's audiences."""

import json
from pathlib import Path

import pytest
import responses
from responses import matchers
from django.urls import reverse

from connections.models import Connection
from syncs.forms import side_value
from syncs.models import Sync
from syncs.validation import SyncData, save_sync, SyncInvalid
from tests.syncs import crm, fake_accounts  # noqa: F401

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "providers" / "fixtures" / "mailchimp"
API = "https://us6.api.mailchimp.com"
LISTS_URL = f"{API}/3.0/lists"
LIST_ID = "4f8a1c2b3d"
AUDIENCE = f"members:{LIST_ID}"
LISTS_FIELDS = "lists.id,lists.name,total_items"


def load(name):
    return json.loads((FIXTURES / name).read_text())


def mock_audiences():
    """Mock the two pages of GET /3.0/lists: Newsletter and Customers, then Événements."""
    for offset, name in (("0", "lists_page1.json"), ("2", "lists_page2.json")):
        responses.add(
            responses.GET,
            LISTS_URL,
            json=load(name),
            match=[matchers.query_param_matcher({"count": "1000", "offset": offset, "fields": LISTS_FIELDS})],
        )


@pytest.fixture
def mailchimp(workspace):
    connection = Connection(
        workspace=workspace,
        provider="mailchimp",
        display_name="Acme Mailchimp",
        account_id="8d3a3db4d97663a9074efcc16",
        auth_method=Connection.AuthMethod.API_KEY,
        options={"dc": "us6"},
    )
    connection.set_credentials({"api_key": "0123456789abcdef0123456789abcdef-us6"})
    connection.save()
    return connection


def new_url(workspace):
    return reverse("syncs:new", args=[workspace.public_id])


def test_step_one_offers_mailchimp_audiences(owner_client, workspace, mailchimp, crm):
    mock_audiences()

    page = owner_client.get(new_url(workspace)).content.decode()

    assert f'value="{side_value(mailchimp, AUDIENCE)}"' in page
    assert "Acme Mailchimp: Mailchimp audience “Newsletter” members" in page
    assert "Acme Mailchimp: Mailchimp audience “Événements” members" in page
    assert "Crm: Faketool contacts" in page


def test_step_one_requests_audiences_from_account(owner_client, workspace, mailchimp):
    mock_audiences()

    owner_client.get(new_url(workspace))

    assert [call.request.url.split("?")[0] for call in responses.calls] == [LISTS_URL, LISTS_URL]


def test_step_one_shows_failed_audience_listing(owner_client, workspace, mailchimp, crm):
    responses.add(responses.GET, LISTS_URL, status=403, json=load("error_forbidden.json"))

    response = owner_client.get(new_url(workspace))

    page = response.content.decode()
    assert response.status_code == 200
    assert "The objects of Acme Mailchimp could not be listed" in page
    assert "Crm: Faketool contacts" in page
    assert f'value="{side_value(mailchimp, AUDIENCE)}"' not in page


def test_audience_side_leads_to_merge_fields(owner_client, workspace, mailchimp, crm):
    mock_audiences()
    responses.add(responses.GET, f"{LISTS_URL}/{LIST_ID}/merge-fields", json=load("merge_fields.json"))

    response = owner_client.post(
        new_url(workspace),
        {
            "step": "sides",
            "name": "Newsletter to CRM",
            "side_a": side_value(mailchimp, AUDIENCE),
            "side_b": side_value(crm, "contact"),
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Step 2 of 2" in page
    assert "First Name (merge_fields.FNAME)" in page


def test_unknown_audience_is_rejected_naming_audiences(workspace, mailchimp, crm):
    mock_audiences()
    data = SyncData(
        name="Gone audience",
        connection_a=mailchimp,
        object_a="members:0000000000",
        connection_b=crm,
        object_b="contact",
    )

    with pytest.raises(SyncInvalid) as raised:
        save_sync(workspace, data)

    problem = raised.value.problems[0]
    assert problem.field == "object_a"
    assert problem.message == (
        "Mailchimp has no object 'members:0000000000'. "
        f"Choose one of: {AUDIENCE}, members:9c0e7d5a11, members:b7e2f0c9aa."
    )
    assert Sync.objects.count() == 0


def test_failed_audience_listing_is_a_problem(workspace, mailchimp, crm):
    responses.add(responses.GET, LISTS_URL, status=403, json=load("error_forbidden.json"))
    data = SyncData(name="N", connection_a=mailchimp, object_a=AUDIENCE, connection_b=crm, object_b="contact")

    with pytest.raises(SyncInvalid) as raised:
        save_sync(workspace, data)

    assert raised.value.problems[0].message.startswith("Could not list the objects of Acme Mailchimp:")
    assert Sync.objects.count() == 0
