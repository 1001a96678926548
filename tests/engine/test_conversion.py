"""Tests for converting source values into destination field types."""

import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connections.providers.hubspot.wire import to_wire
from connections.providers.types import FailureCategory, FieldSpec, FieldType, Record
from syncs.engine import CreatePolicy, MappingSpec, plan_batch
from syncs.engine.conversion import ConversionError, convert, to_text
from syncs.engine.dates import epoch_milliseconds

SOURCE = FieldSpec(name="created", label="Created", type=FieldType.STRING)
DATE = FieldSpec(name="customer_since", label="Customer since", type=FieldType.DATE)
DATETIME = FieldSpec(name="stripe_created_at", label="Stripe created at", type=FieldType.DATETIME)
NUMBER = FieldSpec(name="num_seats", label="Number of seats", type=FieldType.NUMBER)
MONEY = FieldSpec(name="mrr", label="MRR", type=FieldType.MONEY)
BOOLEAN = FieldSpec(name="is_vip", label="VIP", type=FieldType.BOOLEAN)
EMAIL = FieldSpec(name="email", label="Email", type=FieldType.EMAIL)
TEXT = FieldSpec(name="notes", label="Notes", type=FieldType.STRING, max_length=500)
PLAN_TIER = FieldSpec(
    name="plan_tier", label="Plan tier", type=FieldType.ENUMERATION, options={"pro": "Pro", "starter": "Starter"}
)
INTERESTS = FieldSpec(
    name="interests",
    label="Interests",
    type=FieldType.MULTI_SELECT,
    options={"vip": "VIP", "beta": "Beta", "churned": "Churned"},
)


def convert_to(destination, value, transform=None):
    return convert(value, SOURCE, destination, transform)


def conversion_error(destination, value, transform=None):
    with pytest.raises(ConversionError) as caught:
        convert_to(destination, value, transform)
    return caught.value


@pytest.fixture(params=["Pacific/Kiritimati", "America/Los_Angeles", "America/New_York"])
def server_time_zone(request, monkeypatch):
    """Run the test with the process time zone set to a far-off zone."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


# Dates and datetimes


def test_date_only_destination_uses_utc_date(server_time_zone):
    converted = convert_to(DATE, 1733312345)

    assert converted == date(2024, 12, 4)
    assert epoch_milliseconds(converted) == 1733270400000


def test_date_near_midnight_keeps_utc_date(server_time_zone):
    # 2024-12-04T23:59:59Z is already 5 December in Kiritimati.
    assert convert_to(DATE, 1733356799) == date(2024, 12, 4)


def test_datetime_from_epoch_seconds(server_time_zone):
    converted = convert_to(DATETIME, 1733312345)

    assert converted == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)
    assert epoch_milliseconds(converted) == 1733312345000


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (1733312345, "1733270400000"),
        ("1733312345", "1733270400000"),
        ("2024-12-04T11:39:05Z", "1733270400000"),
        # 23:59:59 in New York is already 5 December in UTC.
        ("2024-12-04T23:59:59-05:00", "1733356800000"),
    ],
)
def test_hubspot_date_property_is_utc_midnight(server_time_zone, created, expected):
    created_field = FieldSpec(name="created", label="Created", type=FieldType.DATETIME, writable=False)
    source = Record(id="cus_P1", email="pia@example.com", values={"created": created})
    contact = Record(id="501", email="pia@example.com", values={"customer_since": ""})

    plan = plan_batch(
        [source], {"pia@example.com": [contact]}, [MappingSpec(created_field, DATE)], CreatePolicy.UPDATE_ONLY
    )

    assert to_wire(plan.writes[0].values["customer_since"], DATE) == expected


def test_datetime_from_epoch_milliseconds():
    assert convert_to(DATETIME, 1733312345123) == datetime(2024, 12, 4, 11, 39, 5, 123000, tzinfo=UTC)


def test_epoch_unit_guess_switches_at_1e11():
    assert convert_to(DATETIME, 99_999_999_999).year == 5138
    assert convert_to(DATETIME, 100_000_000_000) == datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)


def test_epoch_unit_transform_overrides_guess():
    converted = convert_to(DATETIME, 1733312345, {"epoch_unit": "milliseconds"})

    assert converted == datetime(1970, 1, 21, 1, 28, 32, 345000, tzinfo=UTC)


def test_datetime_from_numeric_string():
    assert convert_to(DATETIME, "1733312345000") == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)


def test_datetime_from_decimal_and_float_epochs():
    assert convert_to(DATETIME, Decimal("1733312345.5")) == datetime(2024, 12, 4, 11, 39, 5, 500000, tzinfo=UTC)
    assert convert_to(DATETIME, 1733312345.0) == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)


def test_datetime_from_iso_string_with_offset():
    converted = convert_to(DATETIME, "2024-12-04T12:39:05+01:00")

    assert converted == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)
    assert converted.tzinfo == UTC


def test_datetime_from_iso_string_with_z():
    assert convert_to(DATETIME, "2024-12-04T11:39:05Z") == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)


def test_datetime_without_offset_is_utc(server_time_zone):
    assert convert_to(DATETIME, "2024-12-04T11:39:05") == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)
    assert convert_to(DATETIME, datetime(2024, 12, 4, 11, 39, 5)) == datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)


def test_datetime_from_date_is_utc_midnight():
    assert convert_to(DATETIME, date(2024, 12, 4)) == datetime(2024, 12, 4, tzinfo=UTC)


def test_date_from_iso_date_string():
    assert convert_to(DATE, "2024-12-04") == date(2024, 12, 4)


def test_date_from_offset_datetime_uses_utc_date():
    assert convert_to(DATE, "2024-12-04T23:30:00-05:00") == date(2024, 12, 5)


def test_date_from_aware_datetime_object():
    instant = datetime(2024, 12, 5, 8, 0, tzinfo=timezone(timedelta(hours=14)))

    assert convert_to(DATE, instant) == date(2024, 12, 4)


def test_date_from_date_object_is_unchanged():
    assert convert_to(DATE, date(2024, 2, 29)) == date(2024, 2, 29)


def test_date_format_transform_reads_source_pattern():
    assert convert_to(DATE, "12/04/2024", {"date_format": "%m/%d/%Y"}) == date(2024, 12, 4)


def test_date_format_mismatch_names_pattern():
    error = conversion_error(DATE, "2024-12-04", {"date_format": "%m/%d/%Y"})

    assert "%m/%d/%Y" in error.message


@pytest.mark.parametrize("value", ["next tuesday", "2024-13-01", True, {"day": 4}, 1e300])
def test_unreadable_date_is_type_mismatch(value):
    error = conversion_error(DATE, value)

    assert error.category == FailureCategory.TYPE_MISMATCH
    assert "Customer since (customer_since)" in error.message
    assert "expected a date" in error.message


# Money


def test_money_into_number_uses_currency_exponent():
    assert convert_to(NUMBER, {"amount": 1250, "currency": "usd"}) == Decimal("12.50")


def test_zero_decimal_currency_keeps_whole_amount():
    converted = convert_to(MONEY, {"amount": 1250, "currency": "jpy"})

    assert converted == {"amount": Decimal("1250"), "currency": "jpy"}


def test_three_decimal_currency_divides_by_thousand():
    converted = convert_to(MONEY, {"amount": 12345, "currency": "KWD"})

    assert converted == {"amount": Decimal("12.345"), "currency": "kwd"}


def test_money_from_string_minor_units():
    converted = convert_to(MONEY, {"amount": "1250.5", "currency": "usd"})

    assert converted["amount"] == Decimal("12.505")


def test_money_with_decimal_amount_is_major_units():
    converted = convert_to(MONEY, {"amount": Decimal("12.50"), "currency": "eur"})

    assert converted == {"amount": Decimal("12.50"), "currency": "eur"}


def test_money_into_string_reads_amount_and_code():
    assert convert_to(TEXT, {"amount": 1250, "currency": "usd"}) == "12.50 USD"
    assert convert_to(TEXT, {"amount": 500, "currency": "jpy"}) == "500 JPY"


def test_number_into_money_takes_transform_currency():
    converted = convert_to(MONEY, "12.5", {"currency": "usd"})

    assert converted == {"amount": Decimal("12.5"), "currency": "usd"}


def test_number_into_money_without_currency_is_mismatch():
    error = conversion_error(MONEY, 12)

    assert "currency" in error.message
    assert "MRR (mrr)" in error.message


@pytest.mark.parametrize(
    "value",
    [{"amount": "ten", "currency": "usd"}, {"amount": 100, "currency": "dollars"}, {"amount": True, "currency": "usd"}],
)
def test_unreadable_money_is_type_mismatch(value):
    assert conversion_error(MONEY, value).category == FailureCategory.TYPE_MISMATCH


def test_scale_turns_cents_into_dollars():
    assert convert_to(NUMBER, 1250, {"scale": 0.01}) == Decimal("12.50")


def test_scale_applies_to_money_amount():
    converted = convert_to(MONEY, {"amount": 1000, "currency": "usd"}, {"scale": 12})

    assert converted == {"amount": Decimal("120"), "currency": "usd"}


# Numbers


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, Decimal(12)), (12.5, Decimal("12.5")), (0.1, Decimal("0.1")), (Decimal("3.14"), Decimal("3.14")),
     ("12", Decimal(12)), (" -3.5 ", Decimal("-3.5")), ("1e3", Decimal(1000)), (".5", Decimal("0.5"))],
)
def test_number_accepts_numeric_values(value, expected):
    assert convert_to(NUMBER, value) == expected


@pytest.mark.parametrize(
    "value", ["twelve", "1,234.5", "NaN", "inf", float("nan"), float("inf"), Decimal("NaN"), True, [1]]
)
def test_number_rejects_non_numbers(value):
    error = conversion_error(NUMBER, value)

    assert error.category == FailureCategory.TYPE_MISMATCH
    assert repr(value)[:20] in error.message
    assert "Number of seats (num_seats)" in error.message
    assert "expected a number" in error.message


# Booleans


@pytest.mark.parametrize("value", [True, "true", "TRUE", "yes", " Yes ", 1, "1", Decimal(1)])
def test_boolean_true_values(value):
    assert convert_to(BOOLEAN, value) is True


@pytest.mark.parametrize("value", [False, "false", "No", 0, "0", 0.0])
def test_boolean_false_values(value):
    assert convert_to(BOOLEAN, value) is False


@pytest.mark.parametrize("value", ["maybe", 2, "on", -1, [True]])
def test_boolean_rejects_other_values(value):
    error = conversion_error(BOOLEAN, value)

    assert error.category == FailureCategory.TYPE_MISMATCH
    assert "expected true or false" in error.message


# Enumerations


def test_enumeration_accepts_option_value():
    assert convert_to(PLAN_TIER, "pro") == "pro"


def test_enumeration_rejects_label_and_names_options():
    error = conversion_error(PLAN_TIER, "Pro ")

    assert error.category == FailureCategory.TYPE_MISMATCH
    assert "'Pro '" in error.message
    assert "Plan tier (plan_tier)" in error.message
    assert "allowed values are pro, starter" in error.message
    assert "label of 'pro'" in error.message


def test_enumeration_value_map_maps_value():
    assert convert_to(PLAN_TIER, "price_123", {"value_map": {"price_123": "pro"}}) == "pro"


def test_enumeration_value_map_maps_label():
    assert convert_to(PLAN_TIER, "Starter Plan", {"value_map": {"starter plan": "starter"}}) == "starter"


def test_enumeration_unmapped_value_is_mismatch():
    error = conversion_error(PLAN_TIER, "enterprise", {"value_map": {"price_123": "pro"}})

    assert "'enterprise' is not an option" in error.message


def test_enumeration_from_boolean_uses_text():
    flag = FieldSpec(name="flag", label="Flag", type=FieldType.ENUMERATION, options={"true": "Yes", "false": "No"})

    assert convert_to(flag, True) == "true"


def test_enumeration_from_one_item_list():
    assert convert_to(PLAN_TIER, ["Pro"], {"value_map": {"Pro": "pro"}}) == "pro"


def test_enumeration_from_several_items_is_mismatch():
    assert "contains more than one value" in conversion_error(PLAN_TIER, ["pro", "starter"]).message


def test_enumeration_without_options_accepts_any_value():
    free = FieldSpec(name="status", label="Status", type=FieldType.ENUMERATION)

    assert convert_to(free, "anything") == "anything"


def test_value_map_to_empty_clears_value():
    assert convert_to(PLAN_TIER, "legacy", {"value_map": {"legacy": ""}}) is None


# Multi-select


def test_multi_select_from_list():
    assert convert_to(INTERESTS, ["vip", "beta"]) == ["vip", "beta"]


def test_multi_select_from_semicolon_string():
    assert convert_to(INTERESTS, "vip; beta") == ["vip", "beta"]


def test_multi_select_from_comma_string():
    assert convert_to(INTERESTS, "vip,beta,vip") == ["vip", "beta"]


def test_multi_select_maps_each_item():
    transform = {"value_map": {"VIP customer": "vip", "Beta tester": "beta"}}

    assert convert_to(INTERESTS, ["VIP customer", "Beta tester"], transform) == ["vip", "beta"]


def test_multi_select_names_every_invalid_item():
    error = conversion_error(INTERESTS, ["vip", "gold", "silver"])

    assert "'gold', 'silver' is not an option" in error.message
    assert "allowed values are vip, beta, churned" in error.message


def test_multi_select_into_string_joins_with_semicolon():
    metadata = FieldSpec(name="metadata.interests", label="Interests", type=FieldType.STRING, max_length=500)

    assert convert(["vip", "beta"], INTERESTS, metadata) == "vip;beta"


# Strings


def test_string_over_limit_names_length_and_limit():
    error = conversion_error(TEXT, "x" * 600)

    assert error.category == FailureCategory.TYPE_MISMATCH
    assert "600-character" in error.message
    assert "at most 500 characters" in error.message
    assert "Notes (notes)" in error.message


def test_string_at_limit_is_kept():
    assert convert_to(TEXT, "x" * 500) == "x" * 500


def test_truncate_transform_cuts_to_limit():
    assert convert_to(TEXT, "x" * 600, {"truncate": True}) == "x" * 500


def test_nested_object_into_string_is_mismatch():
    assert "nested object" in conversion_error(TEXT, {"a": 1}).message


def test_list_of_lists_into_string_is_mismatch():
    assert "nested lists or objects" in conversion_error(TEXT, [["a"], ["b"]]).message


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "12"), (Decimal("12.50"), "12.5"), (1.5e-7, "0.00000015"), (True, "true"),
     (date(2024, 12, 4), "2024-12-04"), (datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC), "2024-12-04T11:39:05Z")],
)
def test_scalars_into_string(value, expected):
    assert convert_to(TEXT, value) == expected


def test_date_format_transform_writes_string_pattern():
    assert to_text(date(2024, 12, 4), {"date_format": "%m/%d/%Y"}) == "12/04/2024"


# Emails and empty values


def test_email_destination_normalises():
    assert convert_to(EMAIL, " Carol@New.Example.com ") == "carol@new.example.com"


def test_invalid_email_destination_is_mismatch():
    error = conversion_error(EMAIL, "max@example.com.")

    assert "'max@example.com.'" in error.message
    assert "not a valid address" in error.message


@pytest.mark.parametrize("destination", [TEXT, NUMBER, DATE, DATETIME, BOOLEAN, PLAN_TIER, INTERESTS, MONEY, EMAIL])
@pytest.mark.parametrize("value", [None, "", "   ", []])
def test_empty_value_converts_to_none(destination, value):
    assert convert_to(destination, value) is None


def test_error_names_source_field():
    error = conversion_error(NUMBER, "twelve")

    assert "Created (created)" in error.message


def test_set_into_string_is_sorted():
    assert convert_to(TEXT, {"vip", "beta"}) == "beta;vip"


def test_date_format_writes_datetime_in_utc():
    instant = datetime(2024, 12, 5, 8, 0, tzinfo=timezone(timedelta(hours=14)))

    assert to_text(instant, {"date_format": "%Y-%m-%d %H:%M"}) == "2024-12-04 18:00"
