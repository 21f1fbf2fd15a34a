"""``DocumentStore`` on the tasks' DynamoDB table: one item per document, under
``pk = DOC#<kind>#<name>``, listed from the status index (``gsi1pk = DOC#<kind>``) when the
table has it, else by a filtered ``Scan``; expired documents go by time-to-live."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..clock import Clock, system_clock
from ..contracts import ANY_VERSION, StoredDocument
from ..errors import ConditionFailedError
from ..serialization import dumps, loads
from ._dynamo_batch import batch_get
from ._dynamo_codec import AttributeValue, check_item_size, check_partition_key, utc_text
from ._dynamo_index import GSI_NAME, INDEX_PK, INDEX_SK
from ._dynamo_locks import TTL_ATTRIBUTE
from ._edges import aws_code, aws_edge, require_boto3
from .documents import check_version

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoDocumentStore"]

_KEEP = frozenset({"ConditionalCheckFailedException"})


class DynamoDocumentStore:
    """Named JSON documents in a tasks table (see ``contracts.DocumentStore``).

    Each write is one conditional ``UpdateItem`` (the version fence); a listing is one
    index ``Query`` per page and a ``BatchGetItem`` per 100 documents, or a ``Scan`` of
    the whole table with ``status_index=False``.
    """

    def __init__(
        self,
        *,
        table_name: str,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        clock: Clock = system_clock,
        status_index: bool = True,
    ) -> None:
        if client is None:
            require_boto3(f"DynamoDocumentStore on table {table_name!r}")
        self.table_name = table_name
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._clock = clock
        self.status_index = status_index

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            from ._aws_clients import dynamodb_client

            self._client = dynamodb_client(self._region, self._endpoint_url)
        return self._client

    def _call(self, operation: str, **params: Any) -> Any:
        with aws_edge("DynamoDB table", self.table_name, keep=_KEEP):
            return getattr(self.client, operation)(**params)

    @staticmethod
    def _key(kind: str, name: str) -> dict[str, AttributeValue]:
        pk = f"DOC#{kind}#{name}"
        check_partition_key(pk, f"the name of a {kind} document")
        return {"pk": {"S": pk}}

    def _decode(self, item: dict[str, AttributeValue] | None) -> StoredDocument | None:
        if not item or "version" not in item:
            return None
        expires = item.get(TTL_ATTRIBUTE)
        expires_at = (
            datetime.fromtimestamp(int(expires["N"]), tz=self._clock.now().tzinfo)
            if expires is not None
            else None
        )
        if expires_at is not None and expires_at <= self._clock.now():
            return None  # expired; the time-to-live removes it within days
        return StoredDocument(
            kind=item["kind"]["S"],
            name=item["name"]["S"],
            version=int(item["version"]["N"]),
            data=loads(item["data"]["S"]),
            updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
            expires_at=expires_at,
        )

    def get_document(self, kind: str, name: str) -> StoredDocument | None:
        out = self._call(
            "get_item", TableName=self.table_name, Key=self._key(kind, name), ConsistentRead=True
        )
        return self._decode(out.get("Item"))

    def list_documents(self, kind: str) -> list[StoredDocument]:
        if self.status_index:
            keys = self._indexed_keys(kind)
            items = batch_get(self._call, self.table_name, keys, consistent=False)
        else:
            items = self._scan(kind)
        found = [d for d in (self._decode(i) for i in items) if d is not None and d.kind == kind]
        return sorted(found, key=lambda d: d.name)

    def _indexed_keys(self, kind: str) -> list[dict[str, AttributeValue]]:
        keys: list[dict[str, AttributeValue]] = []
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": INDEX_PK},
            "ExpressionAttributeValues": {":p": {"S": f"DOC#{kind}"}},
        }
        while True:
            out = self._call("query", **params)
            keys.extend({"pk": item["pk"]} for item in out.get("Items", []))
            if "LastEvaluatedKey" not in out:
                return keys
            params["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def _scan(self, kind: str) -> list[dict[str, AttributeValue]]:
        items: list[dict[str, AttributeValue]] = []
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(#pk, :prefix)",
            "ExpressionAttributeNames": {"#pk": "pk"},
            "ExpressionAttributeValues": {":prefix": {"S": f"DOC#{kind}#"}},
            "ConsistentRead": True,
        }
        while True:
            out = self._call("scan", **params)
            items.extend(out.get("Items", []))
            if "LastEvaluatedKey" not in out:
                return items
            params["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def put_document(
        self,
        kind: str,
        name: str,
        data: Mapping[str, object],
        *,
        expected_version: int,
        expires_at: datetime | None = None,
    ) -> StoredDocument:
        now = self._clock.now()
        key = self._key(kind, name)
        names = {"#v": "version", "#x": TTL_ATTRIBUTE}
        values: dict[str, AttributeValue] = {
            ":kind": {"S": kind},
            ":name": {"S": name},
            ":data": {"S": dumps(dict(data))},
            ":at": {"S": utc_text(now)},
            ":now": {"N": str(int(now.timestamp()))},
        }
        sets = ["#k = :kind", "#n = :name", "#d = :data", "updated_at = :at"]
        names.update({"#k": "kind", "#n": "name", "#d": "data"})
        if self.status_index:
            sets += [f"{INDEX_PK} = :gpk", f"{INDEX_SK} = :name"]
            values[":gpk"] = {"S": f"DOC#{kind}"}
        live = "(attribute_not_exists(#x) OR #x > :now)"
        if expected_version == ANY_VERSION:
            sets.append("#v = if_not_exists(#v, :zero) + :one")
            values.update({":zero": {"N": "0"}, ":one": {"N": "1"}})
            condition = None
        elif expected_version == 0:
            sets.append("#v = :one")
            values[":one"] = {"N": "1"}
            condition = "attribute_not_exists(pk) OR NOT " + live
        else:
            sets.append("#v = :next")
            values[":next"] = {"N": str(expected_version + 1)}
            values[":expected"] = {"N": str(expected_version)}
            condition = f"#v = :expected AND {live}"
        update = "SET " + ", ".join(sets)
        if expires_at is not None:
            update = update.replace("SET ", "SET #x = :expires, ", 1)
            values[":expires"] = {"N": str(int(expires_at.timestamp()))}
        else:
            update += " REMOVE #x"
        check_item_size({**key, **values}, f"{kind} document {name!r}")
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if condition is not None:
            params["ConditionExpression"] = condition
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        else:  # ":now" is only read by the conditions
            del values[":now"]
        try:
            out = self._call("update_item", **params)
        except Exception as error:
            if aws_code(error) != "ConditionalCheckFailedException":
                raise
            current = self._decode(getattr(error, "response", {}).get("Item"))
            check_version(current, expected_version)
            raise ConditionFailedError(current) from None  # changed back meanwhile
        document = self._decode(out["Attributes"])
        assert document is not None
        return document

    def delete_document(self, kind: str, name: str, *, expected_version: int) -> bool:
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(kind, name),
            "ReturnValues": "ALL_OLD",
        }
        if expected_version != ANY_VERSION:
            params["ConditionExpression"] = "attribute_not_exists(pk) OR #v = :expected"
            params["ExpressionAttributeNames"] = {"#v": "version"}
            params["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            out = self._call("delete_item", **params)
        except Exception as error:
            if aws_code(error) != "ConditionalCheckFailedException":
                raise
            current = self._decode(getattr(error, "response", {}).get("Item"))
            check_version(current, expected_version)
            return False  # expired meanwhile: nothing was there
        return self._decode(out.get("Attributes")) is not None
