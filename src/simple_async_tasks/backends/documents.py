"""``DocumentStore`` in memory and on SQLite: the named JSON documents (worker heartbeats,
stored schedules) kept beside the tasks. DynamoDB's is ``dynamodb_documents``."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from ..clock import Clock, system_clock
from ..contracts import ANY_VERSION, StoredDocument
from ..errors import ConditionFailedError
from ..serialization import dumps, loads
from ._edges import sqlite_edge
from ._records import utc_text
from ._sqlite_db import SqliteDatabase

__all__ = ["InMemoryDocumentStore", "SqliteDocumentStore", "check_version"]


def check_version(found: StoredDocument | None, expected_version: int) -> None:
    """Raise ``ConditionFailedError`` (with ``found``) unless ``found`` is at
    ``expected_version`` (0: absent; ``ANY_VERSION``: anything)."""
    if expected_version == ANY_VERSION:
        return
    if (found.version if found is not None else 0) != expected_version:
        raise ConditionFailedError(
            found,
            f"the document was changed by someone else (stored version "
            f"{found.version if found else 'none'}, expected {expected_version or 'none'}): "
            "read it again and reapply the change",
        )


def _live(document: StoredDocument | None, now: datetime) -> StoredDocument | None:
    if document is None or (document.expires_at is not None and document.expires_at <= now):
        return None
    return document


class InMemoryDocumentStore:
    """Documents in a dict, guarded by one lock (one process)."""

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._documents: dict[tuple[str, str], StoredDocument] = {}

    def get_document(self, kind: str, name: str) -> StoredDocument | None:
        with self._lock:
            return _live(self._documents.get((kind, name)), self._clock.now())

    def list_documents(self, kind: str) -> list[StoredDocument]:
        now = self._clock.now()
        with self._lock:
            for key in [k for k, d in self._documents.items() if not _live(d, now)]:
                del self._documents[key]
            return sorted(
                (d for (k, _), d in self._documents.items() if k == kind), key=lambda d: d.name
            )

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
        with self._lock:
            found = _live(self._documents.get((kind, name)), now)
            check_version(found, expected_version)
            document = StoredDocument(
                kind=kind,
                name=name,
                version=(found.version if found else 0) + 1,
                data=loads(dumps(dict(data))),  # a copy, and JSON only, as the others store
                updated_at=now,
                expires_at=expires_at,
            )
            self._documents[(kind, name)] = document
            return document

    def delete_document(self, kind: str, name: str, *, expected_version: int) -> bool:
        with self._lock:
            found = _live(self._documents.get((kind, name)), self._clock.now())
            if found is None:
                return False
            check_version(found, expected_version)
            del self._documents[(kind, name)]
            return True


@sqlite_edge(("get_document", "list_documents"))
class SqliteDocumentStore:
    """Documents in the ``documents`` table of the tasks' SQLite file."""

    def __init__(
        self, path: str | Path = "tasks.db", *, clock: Clock = system_clock, timeout: float = 30.0
    ) -> None:
        self._clock = clock
        self.db = SqliteDatabase.of(path, timeout=timeout)

    @staticmethod
    def _document(kind: str, name: str, row: tuple[int, str, str, str | None]) -> StoredDocument:
        version, updated, data, expires = row
        return StoredDocument(
            kind=kind,
            name=name,
            version=version,
            data=loads(data),
            updated_at=datetime.fromisoformat(updated),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )

    def _read(self, conn: sqlite3.Connection, kind: str, name: str) -> StoredDocument | None:
        row = conn.execute(
            "SELECT version, updated_at, data, expires_at FROM documents "
            "WHERE kind = ? AND name = ?",
            (kind, name),
        ).fetchone()
        found = self._document(kind, name, row) if row else None
        return _live(found, self._clock.now())

    def get_document(self, kind: str, name: str) -> StoredDocument | None:
        return self._read(self.db.get(), kind, name)

    def list_documents(self, kind: str) -> list[StoredDocument]:
        now = utc_text(self._clock.now())
        rows = (
            self.db.get()
            .execute(
                "SELECT name, version, updated_at, data, expires_at FROM documents "
                "WHERE kind = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY name",
                (kind, now),
            )
            .fetchall()
        )
        return [self._document(kind, row[0], row[1:]) for row in rows]

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
        text = dumps(dict(data))
        with self.db.write() as conn:
            found = self._read(conn, kind, name)
            check_version(found, expected_version)
            version = (found.version if found else 0) + 1
            conn.execute(
                "INSERT OR REPLACE INTO documents "
                "(kind, name, version, updated_at, data, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    name,
                    version,
                    utc_text(now),
                    text,
                    utc_text(expires_at) if expires_at else None,
                ),
            )
            conn.execute(
                "DELETE FROM documents WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (utc_text(now),),
            )
        return StoredDocument(
            kind=kind,
            name=name,
            version=version,
            data=loads(text),
            updated_at=now,
            expires_at=expires_at,
        )

    def delete_document(self, kind: str, name: str, *, expected_version: int) -> bool:
        with self.db.write() as conn:
            found = self._read(conn, kind, name)
            if found is None:
                return False
            check_version(found, expected_version)
            conn.execute("DELETE FROM documents WHERE kind = ? AND name = ?", (kind, name))
            return True
