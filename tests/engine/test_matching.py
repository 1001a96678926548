"""Tests for email normalisation and batch matching."""

import pytest

from connections.providers.types import FailureCategory, Record
from syncs.engine.matching import MatchKind, emails_to_look_up, match_batch, normalize_email


def source(record_id, email, deleted=False):
    return Record(id=record_id, email=email, values={}, deleted=deleted)


def destination(record_id, email, secondary=(), deleted=False):
    return Record(id=record_id, email=email, values={}, secondary_emails=tuple(secondary), deleted=deleted)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice.Smith@Example.COM ", "alice.smith@example.com"),
        ("ann+tag@mail.example.co.uk", "ann+tag@mail.example.co.uk"),
        ("josé@example.com", "josé@example.com"),
        ("ann@bücher.example", "ann@bücher.example"),
        ("uma@example.comm", "uma@example.comm"),
    ],
)
def test_normalize_email_trims_and_lowercases(raw, expected):
    assert normalize_email(raw) == expected


def test_normalize_email_keeps_sharp_s():
    # casefold() would turn "ß" into "ss", which is another mailbox.
    assert normalize_email("Straße@Example.de") == "straße@example.de"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "ann.example.com",
        "ann@@example.com",
        "ann@bob@example.com",
        "ann smith@example.com",
        "ann@exa mple.com",
        "@example.com",
        "ann@",
        "ann@localhost",
        "max@example.com.",
        "liz,ray@example.com",
        "ann;bob@example.com",
        "<ann@example.com>",
        ".ann@example.com",
        "ann.@example.com",
        "ann..smith@example.com",
        "ann@-example.com",
        "ann@example..com",
        "ann@10.0.0.1",
        "ann@\texample.com",
        "a" * 65 + "@example.com",
        "ann@" + "a" * 64 + ".com",
        12345,
    ],
)
def test_normalize_email_rejects_invalid_address(raw):
    assert normalize_email(raw) is None


def test_emails_to_look_up_skips_deleted_and_invalid():
    batch = [
        source("1", "Ann@Example.com"),
        source("2", "ann@example.com"),
        source("3", ""),
        source("4", "gone@example.com", deleted=True),
        source("5", "bob@example.com"),
    ]

    assert emails_to_look_up(batch) == ["ann@example.com", "bob@example.com"]


def test_match_finds_destination_by_normalised_email():
    batch = [source("cus_A1", "Alice.Smith@Example.com")]
    found = {"alice.smith@example.com": [destination("54da", "alice.smith@example.com")]}

    [result] = match_batch(batch, found)

    assert result.kind == MatchKind.MATCHED
    assert result.key == "alice.smith@example.com"
    assert result.destination.id == "54da"
    assert result.category is None


def test_match_uses_secondary_email():
    batch = [source("cus_E1", "erin@example.com")]
    found = {"erin@example.com": [destination("401", "erin.work@example.com", secondary=["erin@example.com"])]}

    [result] = match_batch(batch, found)

    assert result.kind == MatchKind.MATCHED
    assert result.destination.id == "401"


def test_match_counts_one_record_found_twice_once():
    contact = destination("401", "erin@example.com", secondary=["erin@example.com"])
    found = {"erin@example.com": [contact, contact]}

    [result] = match_batch([source("cus_E1", "erin@example.com")], found)

    assert result.kind == MatchKind.MATCHED


def test_match_without_destination_is_unmatched():
    [result] = match_batch([source("cus_H7", "hank@example.com")], {})

    assert result.kind == MatchKind.UNMATCHED
    assert result.key == "hank@example.com"
    assert result.category is None


def test_empty_email_is_missing_email_failure():
    batch = [source("501", ""), source("502", "gina@example.com")]

    first, second = match_batch(batch, {})

    assert first.kind == MatchKind.MISSING_EMAIL
    assert first.category == FailureCategory.MISSING_EMAIL
    assert first.key is None
    assert "501" in first.message
    assert "no email" in first.message
    assert second.kind == MatchKind.UNMATCHED


def test_none_email_is_missing_email_failure():
    [result] = match_batch([source("cus_Z", None)], {})

    assert result.category == FailureCategory.MISSING_EMAIL


def test_invalid_email_failure_names_record_and_value():
    [result] = match_batch([source("cus_U9", "liz,ray@example.com")], {})

    assert result.category == FailureCategory.MISSING_EMAIL
    assert "cus_U9" in result.message
    assert "'liz,ray@example.com'" in result.message


def test_two_destination_records_for_one_email_is_duplicate():
    found = {
        "ivy@example.com": [
            destination("9601", "ivy@example.com"),
            destination("9602", "other@example.com", secondary=["ivy@example.com"]),
        ]
    }

    [result] = match_batch([source("601", "ivy@example.com")], found)

    assert result.kind == MatchKind.DUPLICATE_DESTINATION
    assert result.category == FailureCategory.DUPLICATE
    assert "ivy@example.com" in result.message
    assert "9601" in result.message
    assert "9602" in result.message
    assert result.destination is None


def test_shared_source_email_is_duplicate():
    batch = [source("cus_G1", "grace@example.com"), source("cus_G2", "Grace@Example.com")]
    found = {"grace@example.com": [destination("77", "grace@example.com")]}

    results = match_batch(batch, found)

    assert [result.kind for result in results] == [MatchKind.DUPLICATE_SOURCE] * 2
    assert [result.category for result in results] == [FailureCategory.DUPLICATE] * 2
    for result in results:
        assert "cus_G1" in result.message
        assert "cus_G2" in result.message
        assert "grace@example.com" in result.message


def test_deleted_source_record_is_its_own_kind():
    # Deleted customers come without an email; that must not be a failure.
    [result] = match_batch([source("cus_O1", None, deleted=True)], {})

    assert result.kind == MatchKind.SOURCE_DELETED
    assert result.category is None


def test_deleted_source_record_does_not_make_duplicate():
    batch = [source("cus_old", "olga@example.com", deleted=True), source("cus_new", "olga@example.com")]
    found = {"olga@example.com": [destination("4001", "olga@example.com")]}

    deleted, live = match_batch(batch, found)

    assert deleted.kind == MatchKind.SOURCE_DELETED
    assert live.kind == MatchKind.MATCHED


def test_archived_destination_is_not_written():
    found = {"noah@example.com": [destination("3000", "noah@example.com", deleted=True)]}

    [result] = match_batch([source("n1", "noah@example.com")], found)

    assert result.kind == MatchKind.DESTINATION_DELETED
    assert result.category == FailureCategory.NOT_FOUND
    assert "3000" in result.message


def test_archived_destination_beside_live_one_matches_live_one():
    found = {
        "noah@example.com": [
            destination("3000", "noah@example.com", deleted=True),
            destination("3001", "noah@example.com"),
        ]
    }

    [result] = match_batch([source("n1", "noah@example.com")], found)

    assert result.kind == MatchKind.MATCHED
    assert result.destination.id == "3001"


def test_link_matches_record_after_email_change():
    linked = destination("6942", "carol@old.example.com")

    [result] = match_batch(
        [source("201", "carol@new.example.com")],
        found={},
        links={"201": "6942"},
        linked_records={"6942": linked},
    )

    assert result.kind == MatchKind.MATCHED
    assert result.destination.id == "6942"
    assert result.linked is True
    assert result.key == "carol@new.example.com"


def test_stale_link_falls_back_to_email():
    found = {"carol@new.example.com": [destination("7000", "carol@new.example.com")]}

    [result] = match_batch(
        [source("201", "carol@new.example.com")], found, links={"201": "6942"}, linked_records={}
    )

    assert result.kind == MatchKind.MATCHED
    assert result.destination.id == "7000"
    assert result.linked is False


def test_link_to_merged_record_names_surviving_record():
    # The tool returns the surviving record when asked for a merged-away id.
    survivor = destination("5002", "dora@example.com")

    [result] = match_batch(
        [source("s1", "dora@example.com")], {}, links={"s1": "5001"}, linked_records={"5001": survivor}
    )

    assert result.kind == MatchKind.MATCHED
    assert result.destination.id == "5002"


def test_new_email_held_by_other_record_is_duplicate():
    found = {"carol@new.example.com": [destination("7000", "carol@new.example.com")]}

    [result] = match_batch(
        [source("201", "carol@new.example.com")],
        found,
        links={"201": "6942"},
        linked_records={"6942": destination("6942", "carol@old.example.com")},
    )

    assert result.kind == MatchKind.DUPLICATE_DESTINATION
    assert "6942" in result.message
    assert "7000" in result.message


def test_linked_record_deleted_in_destination_is_not_written():
    [result] = match_batch(
        [source("201", "carol@example.com")],
        {},
        links={"201": "6942"},
        linked_records={"6942": destination("6942", "carol@example.com", deleted=True)},
    )

    assert result.kind == MatchKind.DESTINATION_DELETED


def test_match_keeps_batch_order():
    batch = [source("b", "b@example.com"), source("a", ""), source("c", "c@example.com")]

    results = match_batch(batch, {})

    assert [result.source.id for result in results] == ["b", "a", "c"]
