"""Tests for checking a field mapping's transform and value map before it is saved."""

import pytest

from connections.providers.types import FieldSpec, FieldType
from syncs.engine.transforms import map_value, validate_transform, validate_value_map

PLAN_TIER = FieldSpec(
    name="plan_tier", label="Plan tier", type=FieldType.ENUMERATION, options={"pro": "Pro", "starter": "Starter"}
)


def test_valid_transform_has_no_errors():
    transform = {
        "value_map": {"a": "pro"},
        "truncate": True,
        "scale": 0.01,
        "currency": "usd",
        "date_format": "%m/%d/%Y",
        "epoch_unit": "seconds",
    }

    assert validate_transform(transform) == []
    assert validate_transform(None) == []


@pytest.mark.parametrize(
    ("transform", "fragment"),
    [
        ("scale", "must be an object"),
        ({"scael": 2}, "Unknown transform key 'scael'"),
        ({"value_map": ["a"]}, "value_map must map"),
        ({"value_map": {"a": 1}}, "value_map must map"),
        ({"truncate": "yes"}, "truncate must be true or false"),
        ({"scale": "NaN"}, "scale must be a number"),
        ({"scale": True}, "scale must be a number"),
        ({"currency": "dollars"}, "three-letter code"),
        ({"date_format": "MM/DD/YYYY"}, "strptime pattern"),
        ({"epoch_unit": "minutes"}, "seconds or milliseconds"),
    ],
)
def test_invalid_transform_is_named(transform, fragment):
    errors = validate_transform(transform)

    assert len(errors) == 1
    assert fragment in errors[0]


def test_value_map_to_options_is_valid():
    assert validate_value_map({"Gold": "pro", "Legacy": ""}, PLAN_TIER) == []


def test_value_map_to_unknown_option_names_allowed_values():
    [error] = validate_value_map({"price_1": "gold"}, PLAN_TIER)

    assert "'price_1'" in error
    assert "'gold'" in error
    assert "Plan tier (plan_tier)" in error
    assert "allowed values are pro, starter" in error


def test_value_map_to_label_suggests_internal_value():
    [error] = validate_value_map({"price_1": "Pro"}, PLAN_TIER)

    assert "'Pro' is the label of the option 'pro'" in error


def test_value_map_unchecked_without_options():
    text = FieldSpec(name="plan", label="Plan", type=FieldType.STRING)

    assert validate_value_map({"a": "anything"}, text) == []


def test_map_value_looks_up_text_then_ignores_case():
    value_map = {"Gold": "pro", "true": "yes", "12.5": "twelve and a half"}

    assert map_value("Gold", value_map) == "pro"
    assert map_value("GOLD", value_map) == "pro"
    assert map_value(True, value_map) == "yes"
    assert map_value(12.50, value_map) == "twelve and a half"
    assert map_value("silver", value_map) == "silver"
