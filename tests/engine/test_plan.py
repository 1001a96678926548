"""Tests for planning one batch: writes, creates, unchanged, skipped, deleted and failures."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from connections.providers.types import FailureCategory, FieldSpec, FieldType, Record
from syncs.engine.dates import epoch_milliseconds
from syncs.engine.plan import (
    CreatePolicy,
    MappingError,
    MappingSpec,
    RecordState,
    chunk,
    idempotency_key,
    json_bytes,
    plan_batch,
)
from syncs.engine.transforms import decimal_text


def text_field(name, max_length=None):
    return FieldSpec(name=name, label=name.replace("_", " ").title(), type=FieldType.STRING, max_length=max_length)


def mapping(source_name, destination_name, source_type=FieldType.STRING, destination=None, transform=None):
    source = FieldSpec(name=source_name, label=source_name.title(), type=source_type)
    return MappingSpec(source, destination or text_field(destination_name), transform)


def hubspot_wire(value, field):
    """Render a converted value the way HubSpot takes property values: all strings."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return str(epoch_milliseconds(value))
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value


def customer(record_id, address, **values):
    return Record(id=record_id, email=address, values=values)


def contact(record_id, address, secondary=(), **values):
    return Record(id=record_id, email=address, values=values, secondary_emails=tuple(secondary))


PHONE = mapping("phone", "phone")
NAME = mapping("name", "name")


def test_plan_writes_only_changed_fields():
    mappings = [mapping("first_name", "FNAME"), mapping("last_name", "LNAME")]
    sources = [customer("cus_A1", "Alice.Smith@Example.com", first_name="Alice", last_name="Smith")]
    found = {"alice.smith@example.com": [contact("54da", "alice.smith@example.com", FNAME="Alice", LNAME="Smyth")]}

    plan = plan_batch(sources, found, mappings, CreatePolicy.UPDATE_ONLY)

    [write] = plan.writes
    assert write.record_id == "54da"
    assert write.key == "alice.smith@example.com"
    assert write.values == {"LNAME": "Smith"}
    assert plan.failures == []
    assert plan.source_ids == {"alice.smith@example.com": "cus_A1"}


def test_plan_with_nothing_changed_costs_no_write():
    sources = [customer("cus_A1", "ann@example.com", phone="+15550100")]
    found = {"ann@example.com": [contact("1", "ann@example.com", phone="+15550100")]}

    plan = plan_batch(sources, found, [PHONE], CreatePolicy.UPDATE_ONLY)

    assert plan.writes == []
    assert plan.unchanged == ["ann@example.com"]


def test_secondary_email_match_keeps_primary_email():
    email = FieldSpec(name="email", label="Email", type=FieldType.EMAIL)
    mappings = [PHONE, mapping("email", "email", FieldType.EMAIL, destination=email)]
    sources = [customer("cus_E1", "erin@example.com", phone="+15550103", email="erin@example.com")]
    erin = contact("401", "erin.work@example.com", ["erin@example.com"], email="erin.work@example.com", phone=None)
    found = {"erin@example.com": [erin]}

    plan = plan_batch(sources, found, mappings, CreatePolicy.CREATE)

    [write] = plan.writes
    assert write.record_id == "401"
    assert write.values == {"phone": "+15550103"}
    assert plan.creates == []


def test_changed_email_updates_linked_record():
    email = FieldSpec(name="email_address", label="Email address", type=FieldType.EMAIL)
    mappings = [mapping("email", "email_address", FieldType.EMAIL, destination=email)]
    sources = [customer("201", "carol@new.example.com", email="carol@new.example.com", firstname="Carol")]
    member = contact("6942", "carol@old.example.com", email_address="carol@old.example.com")

    plan = plan_batch(
        sources,
        found={},
        mappings=mappings,
        policy=CreatePolicy.CREATE,
        states={"201": RecordState(destination_id="6942")},
        linked_records={"6942": member},
    )

    [write] = plan.writes
    assert write.record_id == "6942"
    assert write.values == {"email_address": "carol@new.example.com"}
    assert plan.creates == []
    assert plan.links == {"201": "6942"}


def test_missing_email_fails_one_record_and_syncs_others():
    sources = [customer("501", "", name="Frank Doe"), customer("502", "gina@example.com", name="Gina Roe")]
    found = {"gina@example.com": [contact("9", "gina@example.com", name="G. Roe")]}

    plan = plan_batch(sources, found, [NAME], CreatePolicy.UPDATE_ONLY)

    [failure] = plan.failures
    assert failure.source_id == "501"
    assert failure.category == FailureCategory.MISSING_EMAIL
    assert failure.values == {"name": "Frank Doe"}
    assert "501" in failure.message
    assert [write.key for write in plan.writes] == ["gina@example.com"]


def test_malformed_emails_fail_before_any_write():
    sources = [
        customer("c1", "liz,ray@example.com", name="Liz"),
        customer("c2", "max@example.com.", name="Max"),
        customer("c3", "ned@example.com", name="Ned"),
    ]

    plan = plan_batch(sources, {}, [NAME], CreatePolicy.CREATE)

    assert [failure.source_id for failure in plan.failures] == ["c1", "c2"]
    assert {failure.category for failure in plan.failures} == {FailureCategory.MISSING_EMAIL}
    assert [create.key for create in plan.creates] == ["ned@example.com"]


def test_shared_source_email_fails_both():
    sources = [
        customer("cus_G1", "grace@example.com", name="Grace Lee"),
        customer("cus_G2", "Grace@Example.com", name="Grace Lee-Wong"),
        customer("cus_H1", "hank@example.com", name="Hank"),
    ]

    plan = plan_batch(sources, {}, [NAME], CreatePolicy.CREATE)

    assert [create.key for create in plan.creates] == ["hank@example.com"]
    assert [failure.source_id for failure in plan.failures] == ["cus_G1", "cus_G2"]
    assert {failure.category for failure in plan.failures} == {FailureCategory.DUPLICATE}
    assert all("cus_G1" in f.message and "cus_G2" in f.message for f in plan.failures)


def test_duplicate_destination_fails_without_write():
    found = {"ivy@example.com": [contact("9601", "ivy@example.com"), contact("9602", "ivy@example.com")]}

    plan = plan_batch([customer("601", "ivy@example.com", name="Ivy Chen")], found, [NAME], CreatePolicy.CREATE)

    [failure] = plan.failures
    assert failure.category == FailureCategory.DUPLICATE
    assert "9601" in failure.message
    assert plan.writes == []
    assert plan.creates == []


def test_deleted_source_record_writes_nothing():
    deleted = Record(id="cus_O1", email=None, values={}, deleted=True)

    plan = plan_batch(
        [deleted], {}, [NAME], CreatePolicy.CREATE, states={"cus_O1": RecordState(destination_id="4001")}
    )

    assert plan.deleted == ["cus_O1"]
    assert plan.writes == []
    assert plan.creates == []
    assert plan.failures == []


def test_archived_destination_is_a_failure_not_a_create():
    archived = Record(id="3000", email="noah@example.com", values={}, deleted=True)

    found = {"noah@example.com": [archived]}

    plan = plan_batch([customer("n1", "noah@example.com", name="Noah")], found, [NAME], CreatePolicy.CREATE)

    [failure] = plan.failures
    assert failure.category == FailureCategory.NOT_FOUND
    assert failure.destination_id == "3000"
    assert plan.creates == []


def test_unmatched_record_is_skipped_when_sync_only_updates():
    sources = [customer("cus_H7", "hank@example.com", phone="+15550107")]

    plan = plan_batch(sources, {}, [PHONE], CreatePolicy.UPDATE_ONLY)

    assert plan.skipped == ["hank@example.com"]
    assert plan.creates == []


def test_unmatched_record_is_created_with_its_values():
    sources = [customer("cus_H7", "hank@example.com", phone="+15550107", name=None)]

    plan = plan_batch(sources, {}, [PHONE, NAME], CreatePolicy.CREATE)

    [create] = plan.creates
    assert create.record_id is None
    assert create.key == "hank@example.com"
    assert create.values == {"phone": "+15550107"}
    assert plan.source_ids == {"hank@example.com": "cus_H7"}


def test_date_property_gets_midnight_utc_milliseconds():
    customer_since = FieldSpec(name="customer_since", label="Customer since", type=FieldType.DATE)
    mappings = [mapping("created", "customer_since", FieldType.DATETIME, destination=customer_since)]
    found = {"pia@example.com": [contact("1", "pia@example.com", customer_since=None)]}

    sources = [customer("cus_P1", "pia@example.com", created=1733312345)]

    plan = plan_batch(sources, found, mappings, CreatePolicy.UPDATE_ONLY, to_wire=hubspot_wire)

    assert plan.writes[0].values == {"customer_since": "1733270400000"}


def test_datetime_property_gets_milliseconds_from_seconds():
    created_at = FieldSpec(name="stripe_created_at", label="Stripe created at", type=FieldType.DATETIME)
    mappings = [mapping("created", "stripe_created_at", FieldType.DATETIME, destination=created_at)]
    found = {"rui@example.com": [contact("1", "rui@example.com")]}

    sources = [customer("cus_R1", "rui@example.com", created=1733312345)]

    plan = plan_batch(sources, found, mappings, CreatePolicy.UPDATE_ONLY, to_wire=hubspot_wire)

    assert plan.writes[0].values == {"stripe_created_at": "1733312345000"}


def test_date_already_in_destination_is_unchanged():
    customer_since = FieldSpec(name="customer_since", label="Customer since", type=FieldType.DATE)
    mappings = [mapping("created", "customer_since", FieldType.DATETIME, destination=customer_since)]
    found = {"pia@example.com": [contact("1", "pia@example.com", customer_since="1733270400000")]}

    sources = [customer("cus_P1", "pia@example.com", created=1733312345)]

    plan = plan_batch(sources, found, mappings, CreatePolicy.UPDATE_ONLY)

    assert plan.unchanged == ["pia@example.com"]


INTERESTS = FieldSpec(
    name="interests",
    label="Interests",
    type=FieldType.MULTI_SELECT,
    options={"vip": "VIP", "beta": "Beta", "churned": "Churned"},
)
TAGS = mapping("tags", "interests", FieldType.MULTI_SELECT, destination=INTERESTS)


def test_multi_select_is_written_semicolon_separated():
    found = {"omar@example.com": [contact("1301", "omar@example.com", interests=None)]}

    sources = [customer("1301", "omar@example.com", tags=["vip", "beta"])]

    plan = plan_batch(sources, found, [TAGS], CreatePolicy.UPDATE_ONLY, to_wire=hubspot_wire)

    assert plan.writes[0].values == {"interests": "vip;beta"}


def test_multi_select_in_other_order_is_unchanged():
    found = {"omar@example.com": [contact("1301", "omar@example.com", interests="beta;vip")]}

    sources = [customer("1301", "omar@example.com", tags=["vip", "beta"])]

    plan = plan_batch(sources, found, [TAGS], CreatePolicy.UPDATE_ONLY)

    assert plan.writes == []
    assert plan.unchanged == ["omar@example.com"]


def test_too_long_value_fails_one_field():
    mappings = [
        mapping("num_seats", "metadata.num_seats", destination=text_field("metadata.num_seats", 500)),
        mapping("interests", "metadata.interests", destination=text_field("metadata.interests", 500)),
        mapping("notes_long", "metadata.notes", destination=text_field("metadata.notes", 500)),
    ]
    source = customer("1401", "pat@example.com", num_seats="12", interests="vip;beta", notes_long="n" * 600)
    found = {"pat@example.com": [contact("cus_P", "pat@example.com")]}

    plan = plan_batch([source], found, mappings, CreatePolicy.UPDATE_ONLY)

    [write] = plan.writes
    assert write.values == {"metadata.num_seats": "12", "metadata.interests": "vip;beta"}
    [failure] = plan.failures
    assert failure.category == FailureCategory.TYPE_MISMATCH
    assert failure.values == {"metadata.notes": "n" * 600}
    assert "metadata.notes" in failure.message
    assert "at most 500 characters" in failure.message
    assert failure.destination_id == "cus_P"


def test_failed_field_is_not_unchanged():
    number = FieldSpec(name="num_seats", label="Seats", type=FieldType.NUMBER)
    mappings = [mapping("num_seats", "num_seats", destination=number)]
    found = {"e5@example.com": [contact("21", "e5@example.com")]}

    plan = plan_batch([customer("e5", "e5@example.com", num_seats="twelve")], found, mappings, CreatePolicy.UPDATE_ONLY)

    assert plan.unchanged == []
    assert plan.writes == []
    assert plan.failures[0].values == {"num_seats": "twelve"}


def test_echo_of_own_write_is_not_written_back():
    sources = [customer("c1", "ann@example.com", phone="+15550100", name="Ann")]
    found = {"ann@example.com": [contact("1", "ann@example.com", phone="+15550199", name="Anne")]}
    state = RecordState(destination_id="1", written_to_source={"phone": "+15550100"})

    plan = plan_batch(sources, found, [PHONE, NAME], CreatePolicy.UPDATE_ONLY, states={"c1": state})

    assert plan.writes[0].values == {"name": "Ann"}


def test_source_change_after_own_write_is_written():
    sources = [customer("c1", "ann@example.com", phone="+15550111")]
    found = {"ann@example.com": [contact("1", "ann@example.com", phone="+15550100")]}
    state = RecordState(destination_id="1", written_to_source={"phone": "+15550100"})

    plan = plan_batch(sources, found, [PHONE], CreatePolicy.UPDATE_ONLY, states={"c1": state})

    assert plan.writes[0].values == {"phone": "+15550111"}


def test_idempotency_key_is_stable_across_runs():
    sources = [customer("c1", "ann@example.com", phone="+15550111")]
    found = {"ann@example.com": [contact("1", "ann@example.com", phone=None)]}

    first = plan_batch(sources, found, [PHONE], CreatePolicy.UPDATE_ONLY)
    second = plan_batch(sources, found, [PHONE], CreatePolicy.UPDATE_ONLY)

    assert first.writes[0].idempotency_key == second.writes[0].idempotency_key
    assert len(first.writes[0].idempotency_key) == 64


def test_idempotency_key_changes_with_values_and_record():
    base = idempotency_key("1", {"phone": "+1"})

    assert idempotency_key("1", {"phone": "+2"}) != base
    assert idempotency_key("2", {"phone": "+1"}) != base


def test_idempotency_key_ignores_equal_number_forms():
    assert idempotency_key("1", {"seats": Decimal("12.50")}) == idempotency_key("1", {"seats": Decimal("12.5")})


def test_idempotency_key_ignores_key_order():
    assert idempotency_key("1", {"plan": "Team", "seats": 3}) == idempotency_key("1", {"seats": 3, "plan": "Team"})


def test_idempotency_key_of_an_integer_beyond_64_bits():
    # orjson refuses such integers, so the standard library encodes them.
    assert idempotency_key("1", {"seats": 2**70}) != idempotency_key("1", {"seats": 2**70 + 1})


def test_json_bytes_is_compact_utf8():
    assert json_bytes({"name": "Zoë", "tags": ["a", "b"]}) == '{"name":"Zoë","tags":["a","b"]}'.encode()


def test_plan_rejects_read_only_destination():
    mrr = FieldSpec(name="mrr", label="MRR", type=FieldType.MONEY, writable=False, derived=True)

    with pytest.raises(MappingError, match=r"MRR \(mrr\) is read-only"):
        plan_batch([], {}, [mapping("x", "mrr", destination=mrr)], CreatePolicy.CREATE)


def test_plan_rejects_two_mappings_into_one_field():
    with pytest.raises(MappingError, match="Two mappings write to the destination field phone"):
        plan_batch([], {}, [PHONE, mapping("mobile", "phone")], CreatePolicy.CREATE)


def test_plan_rejects_value_map_to_unknown_option():
    tier = FieldSpec(name="plan_tier", label="Plan tier", type=FieldType.ENUMERATION, options={"pro": "Pro"})
    bad = mapping("plan", "plan_tier", destination=tier, transform={"value_map": {"price_1": "gold"}})

    with pytest.raises(MappingError, match="'gold'"):
        plan_batch([], {}, [bad], CreatePolicy.CREATE)


def test_chunk_splits_in_order():
    assert list(chunk(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_chunk_of_nothing_is_empty():
    assert list(chunk([], 3)) == []


def test_chunk_rejects_size_below_one():
    with pytest.raises(ValueError, match="at least 1; got 0"):
        list(chunk([1], 0))


def test_skipped_record_has_no_conversion_failure():
    number = FieldSpec(name="num_seats", label="Seats", type=FieldType.NUMBER)
    mappings = [mapping("num_seats", "num_seats", destination=number)]

    plan = plan_batch([customer("e5", "e5@example.com", num_seats="twelve")], {}, mappings, CreatePolicy.UPDATE_ONLY)

    assert plan.skipped == ["e5@example.com"]
    assert plan.failures == []


def test_create_keeps_good_fields_and_fails_bad_one():
    number = FieldSpec(name="num_seats", label="Seats", type=FieldType.NUMBER)
    mappings = [PHONE, mapping("num_seats", "num_seats", destination=number)]
    sources = [customer("e5", "e5@example.com", phone="+1555", num_seats="twelve")]

    plan = plan_batch(sources, {}, mappings, CreatePolicy.CREATE)

    assert plan.creates[0].values == {"phone": "+1555"}
    assert plan.failures[0].values == {"num_seats": "twelve"}
    assert plan.failures[0].destination_id is None


def test_repeated_values_convert_alike_in_one_batch():
    money = FieldSpec(name="mrr", label="MRR", type=FieldType.MONEY)
    number = FieldSpec(name="seats", label="Seats", type=FieldType.NUMBER)
    mappings = [
        mapping("status", "status"),
        mapping("mrr", "mrr", FieldType.MONEY, destination=money),
        mapping("seats", "seats", FieldType.NUMBER, destination=number),
    ]
    sources = [
        customer(f"cus_{index}", f"p{index}@example.com", status="active", mrr={"amount": 2500, "currency": "usd"}, seats=seats)
        for index, seats in enumerate([True, 1, 1.0, "1"])
    ]
    found = {f"p{index}@example.com": [contact(str(index), f"p{index}@example.com")] for index in range(4)}

    plan = plan_batch(sources, found, mappings, CreatePolicy.UPDATE_ONLY)

    assert [write.values["status"] for write in plan.writes] == ["active"] * 4
    mrr_values = [write.values["mrr"] for write in plan.writes]
    assert all(value == mrr_values[0] for value in mrr_values)
    assert len({id(value) for value in mrr_values}) == 4
    # True equals 1 as a key, but a boolean is no number: the type keeps them apart.
    assert [failure.source_id for failure in plan.failures] == ["cus_0"]
    assert [write.values.get("seats") for write in plan.writes] == [None, Decimal(1), Decimal(1), Decimal(1)]
