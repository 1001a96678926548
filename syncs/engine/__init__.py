"""
The sync engine's pure steps: match, convert, diff and plan.

Everything here works on the plain types of `connections.providers.types`
and touches neither the database nor the network. Each module's docstring
lists its rules.
"""

from .conversion import ConversionError, convert, to_text
from .dates import epoch_milliseconds, iso_datetime
from .diff import comparable, diff_values, is_echo, values_equal
from .matching import MatchKind, MatchResult, emails_to_look_up, match_batch, normalize_email
from .money import currency_exponent, format_money
from .plan import (
    CreatePolicy,
    MappingError,
    MappingSpec,
    Plan,
    PlannedFailure,
    RecordState,
    chunk,
    idempotency_key,
    json_bytes,
    json_ready,
    plan_batch,
    validate_mapping,
)
from .transforms import validate_transform, validate_value_map

__all__ = [
    "ConversionError",
    "CreatePolicy",
    "MappingError",
    "MappingSpec",
    "MatchKind",
    "MatchResult",
    "Plan",
    "PlannedFailure",
    "RecordState",
    "chunk",
    "comparable",
    "convert",
    "currency_exponent",
    "diff_values",
    "emails_to_look_up",
    "epoch_milliseconds",
    "format_money",
    "idempotency_key",
    "json_bytes",
    "is_echo",
    "iso_datetime",
    "json_ready",
    "match_batch",
    "normalize_email",
    "plan_batch",
    "to_text",
    "validate_mapping",
    "validate_transform",
    "validate_value_map",
    "values_equal",
]
