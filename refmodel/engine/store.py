"""The in-memory document store and its transactions with optimistic concurrency control.

Theory of operation. The store holds tables of JSON-like documents and a commit counter,
``version``. A :class:`Transaction` remembers the version it started at (its snapshot), reads
through to the committed state (the handler of a mutation runs entirely at its start, so what
it reads *is* the snapshot; rule OCC-1), and buffers every write. At commit, the transaction
conflicts if any document it read, or any table it scanned, was written by a commit made after
its snapshot (rule OCC-2); a conflicting transaction applies nothing. Otherwise its writes
apply at once and every written document and table takes the new version.

Documents carry ``_id`` (``"<table>:<n>"``) and ``_creationTime`` like Convex documents; user
fields may not start with an underscore. Readers always get private copies.
"""

from __future__ import annotations

import copy
from typing import Any

from refmodel.errors import InvalidArgument, InvalidType
from refmodel.values import check_name, copy_json, short

Doc = dict[str, Any]


class Store:
    """All committed documents, with per-document and per-table write versions."""

    def __init__(self) -> None:
        self.version = 0
        self._tables: dict[str, dict[str, Doc]] = {}
        self._doc_version: dict[str, int] = {}
        self._table_version: dict[str, int] = {}
        self._next_number = 0

    def begin(self, now: int, *, read_only: bool = False) -> Transaction:
        """Start a transaction whose snapshot is the current version."""
        return Transaction(self, now, read_only=read_only)

    def tables(self) -> list[str]:
        """The names of the tables that hold at least one document, sorted."""
        return sorted(name for name, docs in self._tables.items() if docs)

    def all(self, table: str) -> list[Doc]:
        """Copies of every committed document of ``table``, in creation order."""
        return [copy.deepcopy(doc) for doc in self._tables.get(table, {}).values()]

    def get(self, doc_id: str) -> Doc | None:
        """A copy of the committed document ``doc_id``, or ``None``."""
        table = _table_of(doc_id)
        doc = self._tables.get(table, {}).get(doc_id)
        return None if doc is None else copy.deepcopy(doc)

    def _new_id(self, table: str) -> str:
        self._next_number += 1
        return f"{table}:{self._next_number}"


def _table_of(doc_id: Any) -> str:
    if type(doc_id) is not str or ":" not in doc_id:
        raise InvalidArgument(
            f"not a document id: {short(doc_id)} (document ids read '<table>:<n>')"
        )
    return doc_id.split(":", 1)[0]


_DELETED = None


class Transaction:
    """One mutation's (or query's) view of the store: snapshot reads, buffered writes."""

    def __init__(self, store: Store, now: int, *, read_only: bool) -> None:
        self._store = store
        self.snapshot = store.version
        self.now = now
        self.read_only = read_only
        # Dicts used as ordered sets, so that conflict reports are deterministic.
        self._read_docs: dict[str, None] = {}
        self._read_tables: dict[str, None] = {}
        self._writes: dict[str, Doc | None] = {}

    # Reads ---------------------------------------------------------------------------------

    def get(self, doc_id: str) -> Doc | None:
        """The document ``doc_id`` as this transaction sees it, or ``None``."""
        table = _table_of(doc_id)
        self._read_docs[doc_id] = None
        if doc_id in self._writes:
            doc = self._writes[doc_id]
        else:
            doc = self._store._tables.get(table, {}).get(doc_id)
        return None if doc is None else copy.deepcopy(doc)

    def query(self, table: str) -> list[Doc]:
        """Every document of ``table`` as this transaction sees it, in creation order."""
        check_name(table, "table name")
        self._read_tables[table] = None
        merged = dict(self._store._tables.get(table, {}))
        for doc_id, doc in self._writes.items():
            if _table_of(doc_id) == table:
                if doc is None:
                    merged.pop(doc_id, None)
                else:
                    merged[doc_id] = doc
        ordered = sorted(merged.values(), key=lambda d: int(d["_id"].split(":", 1)[1]))
        return [copy.deepcopy(doc) for doc in ordered]

    # Writes --------------------------------------------------------------------------------

    def insert(self, table: str, value: Any) -> str:
        """Buffer a new document in ``table``; return its id."""
        self._check_writable("insert")
        check_name(table, "table name")
        fields = _check_fields(value)
        doc_id = self._store._new_id(table)
        self._writes[doc_id] = {"_id": doc_id, "_creationTime": self.now, **fields}
        return doc_id

    def patch(self, doc_id: str, value: Any) -> None:
        """Buffer a shallow merge of ``value`` into an existing document."""
        self._check_writable("patch")
        fields = _check_fields(value)
        doc = self._existing(doc_id, "patch")
        doc.update(fields)
        self._writes[doc_id] = doc

    def replace(self, doc_id: str, value: Any) -> None:
        """Buffer a replacement of an existing document's fields."""
        self._check_writable("replace")
        fields = _check_fields(value)
        doc = self._existing(doc_id, "replace")
        self._writes[doc_id] = {"_id": doc["_id"], "_creationTime": doc["_creationTime"], **fields}

    def delete(self, doc_id: str) -> None:
        """Buffer the deletion of an existing document."""
        self._check_writable("delete")
        self._existing(doc_id, "delete")
        self._writes[doc_id] = _DELETED

    def _existing(self, doc_id: str, verb: str) -> Doc:
        doc = self.get(doc_id)
        if doc is None:
            raise InvalidArgument(f"cannot {verb} {short(doc_id)}: no such document")
        return doc

    def _check_writable(self, verb: str) -> None:
        if self.read_only:
            raise InvalidArgument(f"a query cannot {verb}: queries only read")

    # Commit --------------------------------------------------------------------------------

    @property
    def writes(self) -> int:
        """How many documents this transaction writes."""
        return len(self._writes)

    def conflict(self) -> str | None:
        """The first document or table read here that a later commit wrote, else ``None``."""
        store = self._store
        snapshot = self.snapshot
        for doc_id in self._read_docs:
            if store._doc_version.get(doc_id, 0) > snapshot:
                return doc_id
        for table in self._read_tables:
            if store._table_version.get(table, 0) > snapshot:
                return table
        return None

    def commit(self) -> None:
        """Apply every buffered write atomically. The caller checked :meth:`conflict`."""
        if not self._writes:
            return
        store = self._store
        store.version += 1
        version = store.version
        for doc_id, doc in self._writes.items():
            table = _table_of(doc_id)
            docs = store._tables.setdefault(table, {})
            if doc is None:
                docs.pop(doc_id, None)
            else:
                docs[doc_id] = doc
            store._doc_version[doc_id] = version
            store._table_version[table] = version


def _check_fields(value: Any) -> Doc:
    if type(value) is not dict:
        raise InvalidType(f"a document must be a dict, got {type(value).__name__}")
    for key in value:
        if type(key) is str and key.startswith("_"):
            raise InvalidArgument(
                f"field {key!r} is reserved: user fields may not start with '_'"
            )
    fields: Doc = copy_json(value, "document")
    return fields
