import pytest
import requests

from sandbox.server import SandboxServer
from tests.sandbox import hubspot_session

pytestmark = pytest.mark.live_http


@pytest.fixture(scope="module")
def sandbox():
    server = SandboxServer(rate_limits=False, seed=3, customers=300, contacts=260)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hubspot(sandbox):
    session = hubspot_session()
    session.base = f"{sandbox.url}/hubspot"
    return session


@pytest.fixture
def portal(sandbox):
    return sandbox.state.hubspot_portal()


def contact_ids(portal):
    return [record.id for record in portal.stores["contacts"].records.values() if not record.archived]


def new_contact(portal, **properties):
    values, errors = portal.validate_properties("contacts", properties)
    assert not errors
    return portal.create_record("contacts", values)


def test_contact_list_pages_to_the_last_page(hubspot, portal):
    seen, after = [], None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        body = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts", params=params).json()
        seen += [int(result["id"]) for result in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert seen == contact_ids(portal)


def test_contact_list_returns_requested_properties(hubspot):
    body = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts", params={"limit": 1, "properties": "email,mrr"}).json()
    assert set(body["results"][0]["properties"]) == {"email", "mrr", "createdate", "hs_object_id", "lastmodifieddate"}


def test_contact_list_rejects_limit_over_100(hubspot):
    response = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts", params={"limit": 101})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_account_details_names_portal(hubspot):
    body = hubspot.get(f"{hubspot.base}/account-info/v3/details").json()
    assert body["portalId"] == 4242001
    assert body["companyCurrency"] == "USD"


def test_properties_include_custom_enumeration_options(hubspot):
    results = hubspot.get(f"{hubspot.base}/crm/v3/properties/contacts").json()["results"]
    by_name = {prop["name"]: prop for prop in results}
    status_values = [option["value"] for option in by_name["subscription_status"]["options"]]
    assert by_name["subscription_status"]["type"] == "enumeration"
    assert "paused" not in status_values
    assert "active" in status_values
    assert by_name["customer_since"]["type"] == "date"
    assert by_name["email"]["fieldType"] == "text"


def test_unknown_contact_is_404(hubspot):
    response = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts/999999")
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_search_matches_email_ignoring_case(hubspot, portal):
    record = new_contact(portal, email="Mixed.Case@Example.test")
    body = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "mixed.case@example.test"}]}]}
    result = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json=body).json()
    assert [r["id"] for r in result["results"]] == [str(record.id)]
    assert result["total"] == 1


def test_search_in_operator_and_additional_emails_token(hubspot, portal):
    first = new_contact(portal, email="in-one@example.test")
    second = new_contact(portal, email="in-two@example.test")
    portal.update_record("contacts", second.id, {"hs_additional_emails": "old@example.test;older@example.test"})
    by_in = {"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "IN", "values": ["in-one@example.test", "IN-TWO@example.test"]}
    ]}]}
    by_token = {"filterGroups": [{"filters": [
        {"propertyName": "hs_additional_emails", "operator": "CONTAINS_TOKEN", "value": "older@example.test"}
    ]}]}
    in_ids = [r["id"] for r in hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json=by_in).json()["results"]]
    token_ids = [r["id"] for r in hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json=by_token).json()["results"]]
    assert in_ids == [str(first.id), str(second.id)]
    assert token_ids == [str(second.id)]


def test_search_by_last_modified_pages_in_order(hubspot, portal):
    cutoff = min(record.updated_ms for record in portal.stores["contacts"].records.values())
    body = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(cutoff)}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": 200,
    }
    stamps, after = [], None
    while True:
        page = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json={**body, **({"after": after} if after else {})}).json()
        stamps += [r["updatedAt"] for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert len(stamps) == len(contact_ids(portal))
    assert stamps == sorted(stamps)


def test_search_has_property_and_numeric_comparison(hubspot, portal):
    record = new_contact(portal, email="rich@example.test", mrr="1234.5")
    body = {"filterGroups": [{"filters": [
        {"propertyName": "mrr", "operator": "GT", "value": "1000"},
        {"propertyName": "mrr", "operator": "HAS_PROPERTY"},
    ]}]}
    ids = [r["id"] for r in hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json=body).json()["results"]]
    assert str(record.id) in ids
    assert all(float(portal.value_of("contacts", portal.get_record("contacts", int(i)), "mrr")) > 1000 for i in ids)


def test_search_past_10000_results_is_400(hubspot):
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json={"after": "10000", "limit": 100})
    assert response.status_code == 400
    assert "10000" in response.json()["message"]


def test_search_rejects_unknown_property(hubspot):
    body = {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json=body)
    assert response.status_code == 400
    assert "nope" in response.json()["message"]


def test_archived_contacts_are_hidden_unless_asked(hubspot, portal):
    record = new_contact(portal, email="archived@example.test")
    portal.archive_record("contacts", record.id)
    live = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts/{record.id}")
    archived = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts/{record.id}", params={"archived": "true"})
    search = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "archived@example.test"}]}]}
    assert live.status_code == 404
    assert archived.json()["archived"] is True
    assert hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", json=search).json()["total"] == 0


def test_batch_archive_archives_without_other_changes(hubspot, portal):
    record = new_contact(portal, email="batch-archive@example.test", firstname="Noah")
    updated_before = record.updated_ms
    body = {"inputs": [{"id": str(record.id)}, {"id": "99999999"}]}

    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/archive", json=body)

    stored = portal.get_record("contacts", record.id, archived=True)
    listed = hubspot.get(f"{hubspot.base}/crm/v3/objects/contacts/{record.id}", params={"archived": "true"}).json()
    assert response.status_code == 204
    assert response.content == b""
    assert stored is not None
    assert stored.archived_ms is not None
    assert stored.updated_ms == updated_before
    assert stored.properties["firstname"] == "Noah"
    assert listed["archivedAt"]


def test_batch_archive_rejects_body_without_inputs(hubspot):
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/archive", json={"ids": ["1"]})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_batch_read_by_email_reports_missing_with_207(hubspot, portal):
    record = new_contact(portal, email="batch-read@example.test")
    body = {"idProperty": "email", "properties": ["email"], "inputs": [
        {"id": "BATCH-READ@example.test"}, {"id": "nobody@example.test"},
    ]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/read", json=body)
    payload = response.json()
    assert response.status_code == 207
    assert [r["id"] for r in payload["results"]] == [str(record.id)]
    assert payload["numErrors"] == 1
    assert payload["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert payload["errors"][0]["context"]["ids"] == ["nobody@example.test"]


def test_batch_read_all_found_is_200(hubspot, portal):
    record = new_contact(portal, email="found@example.test")
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": str(record.id)}]})
    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETE"


def test_batch_update_mixed_results_is_207(hubspot, portal):
    good = new_contact(portal, email="good@example.test")
    bad_option = new_contact(portal, email="bad-option@example.test")
    bad_date = new_contact(portal, email="bad-date@example.test")
    unknown = new_contact(portal, email="unknown-prop@example.test")
    body = {"inputs": [
        {"id": str(good.id), "properties": {"plan_tier": "pro", "customer_since": "1430438400000", "mrr": "79"}},
        {"id": str(bad_option.id), "properties": {"plan_tier": "enterprise"}},
        {"id": str(bad_date.id), "properties": {"customer_since": "1430438400001"}},
        {"id": str(unknown.id), "properties": {"favourite_colour": "blue"}},
        {"id": "99999999", "properties": {"firstname": "Ghost"}},
    ]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/update", json=body)
    payload = response.json()
    codes = {error["context"].get("id", error["context"].get("ids"))[0]: error for error in payload["errors"]}
    assert response.status_code == 207
    assert [r["id"] for r in payload["results"]] == [str(good.id)]
    assert payload["numErrors"] == 4
    assert codes[str(bad_option.id)]["errors"][0]["code"] == "INVALID_OPTION"
    assert "enterprise was not one of the allowed options" in codes[str(bad_option.id)]["errors"][0]["message"]
    assert codes[str(bad_date.id)]["errors"][0]["code"] == "INVALID_DATE"
    assert codes[str(unknown.id)]["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert codes["99999999"]["category"] == "OBJECT_NOT_FOUND"
    assert portal.get_record("contacts", good.id).properties["plan_tier"] == "pro"
    assert "plan_tier" not in portal.get_record("contacts", bad_option.id).properties


def test_batch_update_returns_dates_and_updated_at(hubspot, portal):
    record = new_contact(portal, email="dates@example.test")
    before = record.updated_ms
    body = {"inputs": [{"id": str(record.id), "properties": {"customer_since": "1430438400000"}}]}
    result = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/update", json=body).json()["results"][0]
    assert result["properties"]["customer_since"] == "2015-05-01"
    assert portal.get_record("contacts", record.id).updated_ms > before


def test_batch_update_rejects_non_numeric_number(hubspot, portal):
    record = new_contact(portal, email="numbers@example.test")
    body = {"inputs": [{"id": str(record.id), "properties": {"mrr": "lots", "seats": "2.5"}}]}
    payload = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/update", json=body).json()
    codes = sorted(error["code"] for error in payload["errors"][0]["errors"])
    assert codes == ["INVALID_DECIMAL", "INVALID_INTEGER"]


def test_batch_update_with_duplicate_ids_is_400(hubspot, portal):
    record = new_contact(portal, email="dupe-id@example.test")
    body = {"inputs": [{"id": str(record.id), "properties": {"firstname": "A"}},
                       {"id": str(record.id), "properties": {"firstname": "B"}}]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/update", json=body)
    assert response.status_code == 400
    assert "firstname" not in portal.get_record("contacts", record.id).properties


def test_batch_update_over_100_inputs_is_400(hubspot):
    body = {"inputs": [{"id": str(i), "properties": {"firstname": "X"}} for i in range(101)]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/update", json=body)
    assert response.status_code == 400


def test_batch_create_existing_email_is_409(hubspot, portal):
    existing = new_contact(portal, email="taken@example.test")
    before = len(portal.stores["contacts"].records)
    body = {"inputs": [{"properties": {"email": "fresh@example.test"}}, {"properties": {"email": "TAKEN@example.test"}}]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/create", json=body)
    assert response.status_code == 409
    assert response.json()["message"] == f"Contact already exists. Existing ID: {existing.id}"
    assert response.json()["category"] == "CONFLICT"
    assert len(portal.stores["contacts"].records) == before


def test_batch_create_stores_contacts(hubspot, portal):
    body = {"inputs": [{"properties": {"email": "created@example.test", "subscription_status": "active"}}]}
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/batch/create", json=body)
    created_id = int(response.json()["results"][0]["id"])
    assert response.status_code == 201
    assert portal.get_record("contacts", created_id).properties["subscription_status"] == "active"


def test_missing_token_is_401(sandbox):
    response = requests.get(f"{sandbox.url}/hubspot/crm/v3/objects/contacts")
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


def test_single_update_with_invalid_option_is_400(hubspot, portal):
    record = new_contact(portal, email="single@example.test")
    response = hubspot.patch(f"{hubspot.base}/crm/v3/objects/contacts/{record.id}",
                             json={"properties": {"subscription_status": "paused"}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_OPTION"
    assert "subscription_status" not in portal.get_record("contacts", record.id).properties


def test_invalid_json_body_is_400(hubspot):
    response = hubspot.post(f"{hubspot.base}/crm/v3/objects/contacts/search", data="{not json",
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
