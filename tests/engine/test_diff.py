"""Tests for comparing converted values with a destination's current values, and for echoes."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connections.providers.types import FieldSpec, FieldType
from syncs.engine.diff import diff_values, is_echo, values_equal

NUMBER = FieldSpec(name="num_seats", label="Number of seats", type=FieldType.NUMBER)
MONEY = FieldSpec(name="mrr", label="MRR", type=FieldType.MONEY)
BOOLEAN = FieldSpec(name="is_vip", label="VIP", type=FieldType.BOOLEAN)
DATE = FieldSpec(name="customer_since", label="Customer since", type=FieldType.DATE)
DATETIME = FieldSpec(name="stripe_created_at", label="Stripe created at", type=FieldType.DATETIME)
TEXT = FieldSpec(name="phone", label="Phone", type=FieldType.STRING, max_length=10)
EMAIL = FieldSpec(name="email", label="Email", type=FieldType.EMAIL)
PLAN_TIER = FieldSpec(name="plan_tier", label="Plan tier", type=FieldType.ENUMERATION, options={"pro": "Pro"})
INTERESTS = FieldSpec(
    name="interests", label="Interests", type=FieldType.MULTI_SELECT, options={"vip": "VIP", "beta": "Beta"}
)


@pytest.mark.parametrize(
    ("field", "desired", "current"),
    [
        (NUMBER, Decimal("12.50"), "12.5"),
        (NUMBER, Decimal("12"), 12),
        (NUMBER, Decimal("1200"), "1.2e3"),
        (BOOLEAN, True, "true"),
        (BOOLEAN, False, "false"),
        (DATE, date(2024, 12, 4), "1733270400000"),
        (DATE, date(2024, 12, 4), "2024-12-04"),
        (DATETIME, datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC), "1733312345000"),
        (DATETIME, datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC), "2024-12-04T11:39:05.000Z"),
        (DATETIME, datetime(2024, 12, 4, 11, 39, 5, 123456, tzinfo=UTC), "1733312345123"),
        (INTERESTS, ["vip", "beta"], "beta;vip"),
        (INTERESTS, ["vip", "beta"], ["beta", "vip"]),
        (EMAIL, "carol@example.com", "Carol@Example.com"),
        (PLAN_TIER, "pro", "pro"),
        (TEXT, "+15550103", "+15550103"),
        (MONEY, {"amount": Decimal("12.50"), "currency": "usd"}, "12.5"),
        (MONEY, {"amount": Decimal("12.50"), "currency": "usd"}, {"amount": 1250, "currency": "USD"}),
    ],
)
def test_equal_values_in_wire_form_compare_equal(field, desired, current):
    assert values_equal(desired, current, field)


@pytest.mark.parametrize(
    ("field", "desired", "current"),
    [
        (NUMBER, Decimal("12.5"), "12.6"),
        (NUMBER, Decimal("12"), "twelve"),
        (BOOLEAN, True, "false"),
        (DATE, date(2024, 12, 4), "1733184000000"),
        (DATETIME, datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC), "1733312346000"),
        (INTERESTS, ["vip", "beta"], "vip"),
        (EMAIL, "carol@new.example.com", "carol@old.example.com"),
        (TEXT, "Smith", "Smyth"),
        (TEXT, "Smith", "smith"),
        (MONEY, {"amount": Decimal("12.50"), "currency": "usd"}, {"amount": 1250, "currency": "eur"}),
        (MONEY, {"amount": Decimal("12.50"), "currency": "usd"}, "12.6"),
        (MONEY, {"amount": Decimal("12.50"), "currency": "usd"}, None),
    ],
)
def test_different_values_compare_unequal(field, desired, current):
    assert not values_equal(desired, current, field)


@pytest.mark.parametrize("current", [None, "", "  ", []])
def test_none_equals_every_empty_value(current):
    assert values_equal(None, current, TEXT)


def test_current_value_over_limit_still_compares():
    assert values_equal("x" * 20, "x" * 20, TEXT)


def test_current_value_outside_options_differs():
    assert not values_equal("pro", "legacy", PLAN_TIER)


def test_diff_skips_unchanged_fields():
    fields = {"num_seats": NUMBER, "interests": INTERESTS, "phone": TEXT}
    desired = {"num_seats": Decimal("12.50"), "interests": ["vip", "beta"], "phone": "+15550103"}
    current = {"num_seats": "12.5", "interests": "beta;vip", "phone": None}

    assert diff_values(desired, current, fields) == {"phone": "+15550103"}


def test_diff_clears_value_removed_at_source():
    assert diff_values({"phone": None}, {"phone": "+15550103"}, {"phone": TEXT}) == {"phone": None}


def test_diff_treats_missing_current_field_as_empty():
    assert diff_values({"phone": None}, {}, {"phone": TEXT}) == {}
    assert diff_values({"phone": "+1"}, {}, {"phone": TEXT}) == {"phone": "+1"}


def test_echo_of_own_write_is_not_a_change():
    written = {"num_seats": "12"}

    assert is_echo("12.0", written, NUMBER)


def test_value_changed_after_own_write_is_not_echo():
    written = {"num_seats": "12"}

    assert not is_echo("13", written, NUMBER)


def test_field_never_written_is_not_echo():
    assert not is_echo("12", {}, NUMBER)


def test_cleared_value_written_by_sync_is_echo():
    assert is_echo("", {"num_seats": None}, NUMBER)
