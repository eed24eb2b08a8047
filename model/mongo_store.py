"""The production store: MongoDB through pymongo, chosen when MONGO_URI is set.

Durability: the journal, strategies, configuration, values and revocations are written with
w=1, j=True, so an acknowledged write is in mongod's journal; bars and logs use w=1 (acknowledged,
in mongod's memory: a kill -9 of this process loses nothing, and they are rebuilt or disposable if
mongod itself dies). Unique indexes are created on open and carry the upsert keys.

Concurrency: pymongo's client is thread-safe and each call here is one single-document operation
or one bulk of idempotent upserts, so no lock is needed (and none may be: pymongo's I/O yields to
the gevent hub, where a native lock held across it would stall the loop).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pymongo
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument, UpdateOne
from pymongo.errors import CollectionInvalid, ConnectionFailure, DuplicateKeyError, PyMongoError
from pymongo.write_concern import WriteConcern

from model import shapes
from model.shapes import BarRow
from model.store import LabRunRecord, NotFound, Store, StoreError, StoreUnavailable, StrategyRecord

if TYPE_CHECKING:
    from backend.engine.constants import Interval
    from backend.engine.objects import BarData

DEFAULT_DATABASE = "ctpdesk"
JOURNALED = WriteConcern(w=1, j=True)
ACKNOWLEDGED = WriteConcern(w=1)
# Room for the capped log collection: generous, so the document count (max_logs) is what caps it.
LOG_BYTES_PER_RECORD = 4096
BAR_FIELDS = ("start_ms", "open", "high", "low", "close", "volume")  # the wire row's order
P = ParamSpec("P")
R = TypeVar("R")


def describe_hosts(uri: str) -> str:
    """The host list of a URI without credentials, for error messages (no DNS lookup, unlike parse_uri)."""
    rest = uri.split("://", 1)[-1]
    hosts = rest.split("/", 1)[0].split("?", 1)[0]
    return hosts.rsplit("@", 1)[-1] or "(no host)"


def _driver_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turn pymongo's exceptions into StoreError: nothing outside model/ imports the driver."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PyMongoError as exc:
            raise StoreError(f"MongoDB {method.__name__} failed: {exc}") from exc

    return wrapper


class MongoStore(Store):
    def __init__(
        self,
        uri: str,
        max_logs: int = 10_000,
        server_selection_timeout_ms: int = 5000,
        operation_timeout_ms: int = 10_000,
    ) -> None:
        """Connect to `uri` (database from its path, else "ctpdesk") and create the indexes.

        Raises StoreUnavailable within server_selection_timeout_ms when no server answers; every
        later operation gives up after operation_timeout_ms (pymongo's timeoutMS), so a hung server
        cannot stall the store writer for ever.
        """
        self.max_logs = shapes.check_max_logs(max_logs)
        self.hosts = describe_hosts(uri)
        self._client = _connect(uri, self.hosts, server_selection_timeout_ms, operation_timeout_ms)
        try:
            self._database = self._client.get_default_database(DEFAULT_DATABASE, write_concern=JOURNALED)
            self._prepare()
        except PyMongoError as exc:
            self._client.close()
            raise StoreError(f"cannot prepare MongoDB database at {self.hosts}: {exc}") from exc
        except BaseException:
            self._client.close()
            raise
        self._closed = False

    def _prepare(self) -> None:
        db = self._database
        db.bars.create_index([("local_symbol", ASCENDING), ("interval", ASCENDING), ("start_ms", ASCENDING)],
                             unique=True, name="bar_key")  # fmt: skip
        db.orders.create_index([("trading_day", ASCENDING), ("order_id", ASCENDING)], unique=True, name="order_key")
        db.orders.create_index([("trading_day", ASCENDING), ("seq", ASCENDING)], name="orders_by_day")
        db.trades.create_index([("trading_day", ASCENDING), ("exchange", ASCENDING), ("trade_id", ASCENDING),
                                ("direction", ASCENDING)], unique=True, name="trade_key")  # fmt: skip
        db.trades.create_index([("trading_day", ASCENDING), ("seq", ASCENDING)], name="trades_by_day")
        db.revoked_tokens.create_index("expires_at", name="expiry")
        db.lab_runs.create_index([("kind", ASCENDING), ("created_at", DESCENDING)], name="lab_runs_by_time")
        db.tick_chunks.create_index([("local_symbol", ASCENDING), ("last_ms", ASCENDING)], name="tick_chunks_by_symbol")
        # strategies, values, subscriptions and meta are keyed by _id, unique by construction.
        self._prepare_logs()

    def _prepare_logs(self) -> None:
        """A capped collection keeps insertion order and the cap exactly, with no trimming pass."""
        size = max(4096, self.max_logs * LOG_BYTES_PER_RECORD)
        try:
            self._database.create_collection("logs", capped=True, size=size, max=self.max_logs)
            return
        except CollectionInvalid:  # it exists (maybe made a moment ago by another server on this database)
            pass
        options = self._database.logs.options()
        if not options.get("capped"):
            raise StoreError(f"MongoDB at {self.hosts}: collection 'logs' is not capped; drop it (logs are disposable)")
        if options.get("max") != self.max_logs:
            self._database.command("collMod", "logs", cappedMax=self.max_logs, cappedSize=size)

    def _collection(self, name: str, concern: WriteConcern = JOURNALED) -> Any:
        if self._closed:
            raise StoreError(f"store for MongoDB at {self.hosts} is closed")
        collection = self._database[name]
        return collection if concern is JOURNALED else collection.with_options(write_concern=concern)

    def _next_seq(self, name: str = "journal_seq") -> int:
        """A journal-wide counter: ObjectIds order only by second across processes, not by save."""
        counter = self._collection("meta").find_one_and_update(
            {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(counter["value"])

    # --- bars -----------------------------------------------------------------------------------
    @_driver_errors
    def save_bars(self, bars: Iterable[BarData]) -> int:
        rows = shapes.bar_rows(bars)
        if rows:
            operations = [
                UpdateOne({"local_symbol": row.local_symbol, "interval": row.interval, "start_ms": row.start_ms},
                          {"$set": row._asdict()}, upsert=True)
                for row in rows
            ]  # fmt: skip
            self._collection("bars", ACKNOWLEDGED).bulk_write(operations, ordered=False)
        return len(rows)

    @_driver_errors
    def load_bars(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list[Any]]:
        low, high = shapes.bar_range(start_ms, end_ms, limit)
        query = {"local_symbol": local_symbol, "interval": shapes.interval_value(interval),
                 "start_ms": {"$gte": low, "$lte": high}}  # fmt: skip
        found = self._collection("bars").find(query, dict.fromkeys(BAR_FIELDS, 1) | {"_id": 0})
        latest = list(found.sort("start_ms", DESCENDING).limit(limit))
        return [[document[name] for name in BAR_FIELDS] for document in reversed(latest)]

    @_driver_errors
    def load_bar(self, local_symbol: str, interval: Interval | str, start_ms: int) -> BarRow | None:
        query = {"local_symbol": local_symbol, "interval": shapes.interval_value(interval), "start_ms": int(start_ms)}
        found = self._collection("bars").find_one(query, {"_id": 0})
        return BarRow(**{name: found[name] for name in BarRow._fields}) if found else None

    @_driver_errors
    def bar_count(self, local_symbol: str, interval: Interval | str) -> int:
        query = {"local_symbol": local_symbol, "interval": shapes.interval_value(interval)}
        return self._collection("bars").count_documents(query)

    # --- recorded ticks -----------------------------------------------------------------------------
    @_driver_errors
    def save_tick_chunk(self, local_symbol: str, first_ms: int, last_ms: int, count: int, data: bytes) -> None:
        symbol, first, last, ticks, packed = shapes.tick_chunk(local_symbol, first_ms, last_ms, count, data)
        document = {"local_symbol": symbol, "first_ms": first, "last_ms": last, "count": ticks, "data": packed,
                    "seq": self._next_seq("tick_seq")}  # fmt: skip
        self._collection("tick_chunks", ACKNOWLEDGED).insert_one(document)

    @_driver_errors
    def load_tick_chunks(self, local_symbol: str, start_ms: int | None, end_ms: int | None) -> list[bytes]:
        low, high = shapes.tick_range(start_ms, end_ms)
        query = {"local_symbol": local_symbol, "last_ms": {"$gte": low}, "first_ms": {"$lte": high}}
        found = self._collection("tick_chunks").find(query, {"data": 1}).sort("seq", ASCENDING)
        return [bytes(document["data"]) for document in found]

    @_driver_errors
    def tick_summary(self) -> list[dict[str, Any]]:
        pipeline = [
            {"$group": {"_id": "$local_symbol", "count": {"$sum": "$count"}, "first_ms": {"$min": "$first_ms"},
                        "last_ms": {"$max": "$last_ms"}, "bytes": {"$sum": {"$binarySize": "$data"}}}},
            {"$sort": {"_id": 1}},
        ]  # fmt: skip
        found = self._collection("tick_chunks").aggregate(pipeline)
        return [{"local_symbol": row.pop("_id"), **row} for row in found]

    @_driver_errors
    def load_recording(self) -> list[str]:
        return [found["_id"] for found in self._collection("recording").find().sort("_id", ASCENDING)]

    @_driver_errors
    def set_recording(self, local_symbol: str, on: bool) -> None:
        (symbol,) = shapes.symbol_list([local_symbol])
        if on:
            self._collection("recording").update_one({"_id": symbol}, {"$set": {"on": True}}, upsert=True)
        else:
            self._collection("recording").delete_one({"_id": symbol})

    # --- configuration --------------------------------------------------------------------------
    @_driver_errors
    def load_config(self) -> dict[str, Any]:
        found = self._collection("meta").find_one({"_id": "config"})
        return shapes.from_json(found["json"]) if found else {}

    @_driver_errors
    def save_config(self, values: dict[str, Any]) -> None:
        for key in values:
            shapes.check_str("config key", key)
        # JSON text, not a sub-document: configuration keys may hold the dots and dollars BSON dislikes.
        self._collection("meta").replace_one({"_id": "config"}, {"json": shapes.to_json(values)}, upsert=True)

    # --- small values ---------------------------------------------------------------------------
    @_driver_errors
    def get_value(self, key: str) -> str:
        found = self._collection("values").find_one({"_id": key})
        if found is None:
            raise NotFound(f"no value stored under {key!r}")
        return found["value"]

    @_driver_errors
    def set_value(self, key: str, value: str) -> None:
        shapes.check_str("value", value)
        self._collection("values").replace_one({"_id": shapes.check_str("key", key)}, {"value": value}, upsert=True)

    # --- revoked tokens -------------------------------------------------------------------------
    @_driver_errors
    def revoke_token(self, jti: str, expires_at: float) -> None:
        self._collection("revoked_tokens").update_one(
            {"_id": shapes.check_str("jti", jti)}, {"$max": {"expires_at": float(expires_at)}}, upsert=True
        )

    @_driver_errors
    def is_revoked(self, jti: str) -> bool:
        return self._collection("revoked_tokens").find_one({"_id": jti}, {"_id": 1}) is not None

    @_driver_errors
    def revoke_all_before(self, moment: float) -> None:
        self._collection("meta").update_one({"_id": "revoked_before"}, {"$max": {"value": float(moment)}}, upsert=True)

    @_driver_errors
    def revoked_before(self) -> float:
        found = self._collection("meta").find_one({"_id": "revoked_before"})
        return float(found["value"]) if found else 0.0

    @_driver_errors
    def purge_expired_tokens(self, now: float) -> int:
        return self._collection("revoked_tokens").delete_many({"expires_at": {"$lte": float(now)}}).deleted_count

    # --- strategies -----------------------------------------------------------------------------
    @_driver_errors
    def save_strategy_code(self, name: str, text: str, updated_at: float) -> None:
        self._collection("strategies").update_one(
            {"_id": shapes.check_str("name", name)},
            {"$set": {"text": shapes.check_str("text", text), "updated_at": float(updated_at)},
             "$setOnInsert": {"status": "stopped", "error": "", "started_at": None}},
            upsert=True,
        )  # fmt: skip

    @_driver_errors
    def get_strategy(self, name: str) -> StrategyRecord:
        found = self._collection("strategies").find_one({"_id": name})
        if found is None:
            raise NotFound(f"no strategy named {name!r}")
        return _strategy(found)

    @_driver_errors
    def list_strategies(self) -> list[StrategyRecord]:
        return [_strategy(found) for found in self._collection("strategies").find().sort("_id", ASCENDING)]

    @_driver_errors
    def set_strategy_state(self, name: str, status: str, error: str, started_at: float | None) -> None:
        state = {"status": shapes.check_str("status", status), "error": shapes.check_str("error", error),
                 "started_at": None if started_at is None else float(started_at)}  # fmt: skip
        if not self._collection("strategies").update_one({"_id": name}, {"$set": state}).matched_count:
            raise NotFound(f"no strategy named {name!r}")

    @_driver_errors
    def delete_strategy(self, name: str) -> None:
        if not self._collection("strategies").delete_one({"_id": name}).deleted_count:
            raise NotFound(f"no strategy named {name!r}")

    # --- the order/trade journal ----------------------------------------------------------------
    @_driver_errors
    def save_order(self, trading_day: str, order: dict[str, Any]) -> None:
        (order_id,) = shapes.journal_key("order", order, shapes.ORDER_KEY)
        key = {"trading_day": shapes.check_str("trading_day", trading_day), "order_id": order_id}
        update = {"$set": {"data": shapes.json_copy(order)}, "$setOnInsert": {"seq": self._next_seq()}}
        try:
            self._collection("orders").update_one(key, update, upsert=True)
        except DuplicateKeyError:
            # Two first saves raced on the unique index; the loser's row exists now: update it.
            self._collection("orders").update_one(key, {"$set": update["$set"]})

    @_driver_errors
    def load_orders(self, trading_day: str) -> list[dict[str, Any]]:
        return self._journal("orders", trading_day)

    @_driver_errors
    def save_trade(self, trading_day: str, trade: dict[str, Any]) -> bool:
        exchange, trade_id, direction = shapes.journal_key("trade", trade, shapes.TRADE_KEY)
        document = {"trading_day": shapes.check_str("trading_day", trading_day), "exchange": exchange,
                    "trade_id": trade_id, "direction": direction, "data": shapes.json_copy(trade)}  # fmt: skip
        document["seq"] = self._next_seq()
        try:
            self._collection("trades").insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    @_driver_errors
    def load_trades(self, trading_day: str) -> list[dict[str, Any]]:
        return self._journal("trades", trading_day)

    def _journal(self, name: str, trading_day: str) -> list[dict[str, Any]]:
        found = self._collection(name).find({"trading_day": trading_day}, {"data": 1}).sort("seq", ASCENDING)
        return [document["data"] for document in found]

    # --- subscriptions --------------------------------------------------------------------------
    @_driver_errors
    def load_subscriptions(self) -> list[str]:
        return [found["_id"] for found in self._collection("subscriptions").find().sort("_id", ASCENDING)]

    @_driver_errors
    def add_subscriptions(self, local_symbols: Iterable[str]) -> None:
        symbols = shapes.symbol_list(local_symbols)
        if symbols:
            operations = [
                UpdateOne({"_id": symbol}, {"$set": {"local_symbol": symbol}}, upsert=True) for symbol in symbols
            ]
            self._collection("subscriptions").bulk_write(operations, ordered=False)

    @_driver_errors
    def remove_subscriptions(self, local_symbols: Iterable[str]) -> None:
        symbols = shapes.symbol_list(local_symbols)
        if symbols:
            self._collection("subscriptions").delete_many({"_id": {"$in": symbols}})

    # --- logs -----------------------------------------------------------------------------------
    @_driver_errors
    def append_logs(self, records: Iterable[dict[str, Any]]) -> None:
        documents = [shapes.json_copy(record) for record in records]
        if documents:
            self._collection("logs", ACKNOWLEDGED).insert_many(documents, ordered=True)

    @_driver_errors
    def recent_logs(self, limit: int) -> list[dict[str, Any]]:
        found = self._collection("logs").find({}, {"_id": 0}).sort("$natural", DESCENDING)
        return list(found.limit(shapes.check_limit(limit)))[::-1]

    # --- lab runs ---------------------------------------------------------------------------------
    @_driver_errors
    def load_bar_rows(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[BarRow]:
        low, high = shapes.bar_range(start_ms, end_ms, limit)
        query = {"local_symbol": local_symbol, "interval": shapes.interval_value(interval),
                 "start_ms": {"$gte": low, "$lte": high}}  # fmt: skip
        found = self._collection("bars").find(query, {"_id": 0}).sort("start_ms", ASCENDING).limit(limit)
        return [BarRow(**{name: document[name] for name in BarRow._fields}) for document in found]

    @_driver_errors
    def save_lab_run(
        self, run_id: str, kind: str, created_at: float, summary: dict[str, Any], result: dict[str, Any] | None
    ) -> None:
        # JSON text, not sub-documents: a report's keys (params, statistics) may hold what BSON dislikes.
        fields = {"kind": shapes.check_str("kind", kind), "created_at": float(created_at),
                  "summary": shapes.to_json(summary)}  # fmt: skip
        if result is not None:
            fields["result"] = shapes.to_json(result)
        self._collection("lab_runs").update_one({"_id": shapes.check_str("run_id", run_id)}, {"$set": fields},
                                                upsert=True)  # fmt: skip

    @_driver_errors
    def get_lab_run(self, run_id: str) -> LabRunRecord:
        found = self._collection("lab_runs").find_one({"_id": run_id})
        if found is None:
            raise NotFound(f"no lab run {run_id!r}")
        result = found.get("result")
        return LabRunRecord(found["_id"], found["kind"], found["created_at"], shapes.from_json(found["summary"]),
                            None if result is None else shapes.from_json(result))  # fmt: skip

    @_driver_errors
    def list_lab_runs(self, kind: str | None, limit: int) -> list[LabRunRecord]:
        query = {} if kind is None else {"kind": kind}
        found = self._collection("lab_runs").find(query, {"result": 0})
        latest = found.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(shapes.check_limit(limit))
        return [LabRunRecord(document["_id"], document["kind"], document["created_at"],
                             shapes.from_json(document["summary"])) for document in latest]  # fmt: skip

    @_driver_errors
    def delete_lab_run(self, run_id: str) -> None:
        if not self._collection("lab_runs").delete_one({"_id": run_id}).deleted_count:
            raise NotFound(f"no lab run {run_id!r}")

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._client.close()


def _connect(uri: str, hosts: str, timeout_ms: int, operation_timeout_ms: int) -> MongoClient[dict[str, Any]]:
    """Connect and ping now, so a wrong MONGO_URI fails at start with the host named, not at the first order."""
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, timeoutMS=operation_timeout_ms, appname="ctpdesk"
        )
    except (PyMongoError, ValueError) as exc:  # pymongo raises plain ValueError for some malformed URIs
        raise StoreError(f"invalid MONGO_URI for {hosts}: {exc}") from exc
    try:
        # timeoutMS would otherwise stretch server selection to the operation timeout.
        with pymongo.timeout(timeout_ms / 1000):
            client.admin.command("ping")
    except ConnectionFailure as exc:
        client.close()
        reason = str(exc).split(", Timeout:", 1)[0]
        raise StoreUnavailable(f"MongoDB at {hosts} is unreachable after {timeout_ms} ms: {reason}") from exc
    except PyMongoError as exc:
        client.close()
        raise StoreError(f"MongoDB at {hosts} refused the connection check: {exc}") from exc
    return client


def _strategy(found: dict[str, Any]) -> StrategyRecord:
    return StrategyRecord(found["_id"], found["text"], found["updated_at"], found.get("status", "stopped"),
                          found.get("error", ""), found.get("started_at"))  # fmt: skip
