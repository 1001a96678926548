"""Compact UTF-8 JSON for request bodies, idempotency keys and stored values."""

import json

import orjson


def json_bytes(value, sort_keys=False):
    """
    Return `value` as compact UTF-8 JSON, with non-ASCII text as itself rather than \\u escapes.

    orjson encodes a batch of 100 records several times faster than the
    standard library. It rejects integers beyond 64 bits, which the standard
    library then encodes.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False).encode()
