"""``BatchGetItem`` over any number of keys: 100 per call, unprocessed keys tried again
(``PARTIAL_RETRY``), and a throttled table reported as such. Shared by the task DAO and
the document store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import BackendUnavailableError
from ._dynamo_codec import AttributeValue
from ._partial import PARTIAL_RETRY, until_done

BATCH_GET_KEYS = 100

Item = dict[str, AttributeValue]


def batch_get(
    call: Callable[..., Any], table: str, keys: list[Item], *, consistent: bool
) -> list[Item]:
    """The items stored under ``keys`` (missing ones left out); ``call(operation, **params)``
    makes one request.

    Raises:
        BackendUnavailableError: keys still unprocessed after ``PARTIAL_RETRY``'s tries.
    """
    items: list[Item] = []
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table: {"Keys": keys[start : start + BATCH_GET_KEYS], "ConsistentRead": consistent}
        }

        def get(request: dict[str, Any]) -> dict[str, Any] | None:
            out = call("batch_get_item", RequestItems=request)
            items.extend(out.get("Responses", {}).get(table, []))
            return out.get("UnprocessedKeys") or None

        left = until_done(get, request)
        if left is not None:
            raise BackendUnavailableError(
                f"DynamoDB kept {len(left[table]['Keys'])} keys unprocessed after "
                f"{PARTIAL_RETRY.max_attempts} tries; the table is throttled, retry later",
                code="UnprocessedKeys",
            )
    return items
