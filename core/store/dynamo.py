"""The AWS back-end of the store: PynamoDB on the single table that stacks/data.py creates."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import (
    DeleteError,
    PutError,
    PynamoDBException,
    TransactGetError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from core.store import codec, portable
from core.store.base import Conflict, KeyClaimed, NotFound
from core.store.models import (
    AcceptedRequest,
    ActivityRecord,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    NotificationPreferences,
    Page,
    PushSubscriptionRecord,
    ScheduleRecord,
    ScheduleRunRecord,
    SearchHit,
    SearchResults,
    SessionRecord,
    ThrottleRecord,
    ToolCall,
    ToolPolicyRecord,
    VapidKeys,
    to_plain,
)

R = TypeVar("R")
M = TypeVar("M", bound=Model)

# Item keys (blueprint, "Data model").
USER_PARTITION = "USER#default"
SESSION_PREFIX = "SESSION#"
META = "META"
MESSAGE_PREFIX = "MSG#"
ARTIFACT_PREFIX = "ARTIFACT#"
ARTIFACTS_PREFIX = "ARTIFACTS#"
SYSTEM = "SYSTEM"
ACTIVITY = "ACTIVITY"
AUTH_PREFIX = "AUTH#"
THROTTLE = "THROTTLE"
REQUEST_PREFIX = "REQUEST#"
SCHEDULE_PREFIX = "SCHEDULE#"  # SCHEDULE#{id} / META: the schedule; SCHEDULE#{id} / RUN#{run id}: its runs
SCHEDULES_PARTITION = "SCHEDULES"  # GSI1PK of every schedule (GSI1SK: its creation time), to list them
RUN_PREFIX = "RUN#"
APPROVAL_PREFIX = "APPROVAL#"
PENDING_APPROVALS = "APPROVALS#PENDING"  # GSI1PK of a pending approval; removed when it is decided
TOOL_POLICY = "TOOLPOLICY"  # one item per tool: PK TOOLPOLICY, SK the tool's name, `mode`
TEXT_PREFIX = "TEXT#"  # TEXT#{message id}#{part}: the whole text of a message whose item holds it cut
NOTIFY = "NOTIFY"  # the partition of notification items: subscriptions, preferences, the VAPID keys
PUSH_PREFIX = "PUSH#"
PREFERENCES = "PREFERENCES"
VAPID = "VAPID"

# Keys (partition prefix, sort key prefix) of items that are a person's data (exported by kind, text
# parts inside their message) and of those that describe this running Blu; a test requires every item
# a store writes to match one (an ephemeral one first).
EXPORTED_KEYS: tuple[tuple[str, str], ...] = (
    (SESSION_PREFIX, ""),  # sessions, messages, text parts
    (ARTIFACT_PREFIX, ""),
    (SCHEDULE_PREFIX, ""),  # schedules and their runs
    (NOTIFY, PREFERENCES),  # the kinds of notification the person wants
    (TOOL_POLICY, ""),  # the tool policy changed at run time, one item per tool
)
EPHEMERAL_KEYS: tuple[tuple[str, str], ...] = (
    (SYSTEM, ""),  # activity, power log
    (AUTH_PREFIX, ""),  # login throttles
    (SESSION_PREFIX, REQUEST_PREFIX),  # idempotency keys
    # Bound to this Blu's VAPID key pair and the browsers that subscribed (core/store/portable.py).
    (NOTIFY, PUSH_PREFIX),
    (NOTIFY, VAPID),
    # A pending approval belongs to a turn of this Blu; each decision is kept in its tool call's record.
    (SESSION_PREFIX, APPROVAL_PREFIX),
)

_LOST = "ConditionalCheckFailedException"
# A turn's writes are one TransactWriteItems: at most 100 actions and 4 MB of items. The whole text of a
# long message (its text parts) goes in it up to this much; the message item (at most ~330 kB: its text cut
# to 100 kB, its tool calls to 200 kB) and the small session, activity and key items fit in the rest.
TRANSACTION_ACTIONS = 100
TRANSACTION_TEXT_BYTES = 3_000_000
_ATTEMPTS = 5  # reads and transactions tried again when another writer changed an item meanwhile
_AGAIN = "*again"  # a cancelled transaction worth sending again (after reading again)
_PASSING = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# The table has no full-text index: a search reads sessions newest first, at most this many message items.
SEARCH_READ_BUDGET = 20_000
_MAP_KEY_ESCAPES = {"%": "%25", "[": "%5B", "]": "%5D"}


# item schemas: abstract here, bound to a table per store (see _Models) -----------------------------


class _GSI1(GlobalSecondaryIndex["_Item"]):
    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    GSI1PK = UnicodeAttribute(hash_key=True)
    GSI1SK = UnicodeAttribute(range_key=True)


class _Item(Model):
    """The keys every item has: enough to query and delete any of them."""

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    GSI1PK = UnicodeAttribute(null=True)
    GSI1SK = UnicodeAttribute(null=True)
    gsi1 = _GSI1()


def _attribute(kind: codec.FieldKind) -> Attribute[Any]:
    if kind == "string":
        return UnicodeAttribute(null=True)
    if kind == "number":
        return NumberAttribute(null=True)
    if kind == "bool":
        return BooleanAttribute(null=True)
    if kind == "tool_calls":
        return ListAttribute(of=_ToolCallMap, null=True)
    return MapAttribute(null=True)


def _record_attributes(record: type) -> dict[str, Attribute[Any]]:
    """One attribute per record field, named like it: the dataclass is the schema."""
    attributes = {name: _attribute(kind) for name, kind in codec.field_kinds(record).items()}
    clashes = [name for name in attributes if hasattr(Model, name) or hasattr(_Item, name)]
    if clashes:
        raise TypeError(f"{record.__name__} fields clash with PynamoDB names: {clashes}")
    return attributes


_ToolCallMap: type[MapAttribute[str, Any]] = type(
    "ToolCallMap", (MapAttribute,), {**_record_attributes(ToolCall), "__module__": __name__}
)


def _schema(name: str, record: type, **extra: Attribute[Any]) -> type[_Item]:
    namespace = {**_record_attributes(record), **extra, "__module__": __name__}
    return cast(type[_Item], type(name, (_Item,), namespace))


_SESSION = _schema("SessionItem", SessionRecord)
_MESSAGE = _schema("MessageItem", MessageRecord)
_ARTIFACT = _schema("ArtifactItem", ArtifactRecord)
_ACTIVITY = _schema("ActivityItem", ActivityRecord)
_THROTTLE = _schema("ThrottleItem", ThrottleRecord, ttl=NumberAttribute(null=True))  # the table's TTL
_REQUEST = _schema("RequestItem", AcceptedRequest, ttl=NumberAttribute(null=True))
_PUSH = _schema("PushSubscriptionItem", PushSubscriptionRecord)
_PREFERENCES = _schema("NotificationPreferencesItem", NotificationPreferences)
_VAPID = _schema("VapidKeysItem", VapidKeys)
_SCHEDULE = _schema("ScheduleItem", ScheduleRecord)
_RUN = _schema("ScheduleRunItem", ScheduleRunRecord)
_APPROVAL = _schema("ApprovalItem", ApprovalRecord)
_TOOL_MODE = cast(
    type[_Item], type("ToolModeItem", (_Item,), {"mode": UnicodeAttribute(null=True), "__module__": __name__})
)
_TEXT_PART = cast(
    type[_Item], type("TextPartItem", (_Item,), {"text": UnicodeAttribute(null=True), "__module__": __name__})
)


def _bind(schema: type[M], meta: type) -> type[M]:
    # A subclass per store: PynamoDB keeps Meta and the cached connection on the class, so two stores
    # on different tables in one process each get their own.
    return cast(type[M], type(schema.__name__, (schema,), {"Meta": meta, "__module__": __name__}))


@dataclass(frozen=True)
class _Models:
    """The item classes of one store, bound to its table. Fields are read with getattr (`_a`): the
    schemas are built from the record dataclasses, so the type checker cannot see them."""

    item: type[_Item]
    session: type[_Item]
    message: type[_Item]
    artifact: type[_Item]
    activity: type[_Item]
    throttle: type[_Item]
    request: type[_Item]
    text_part: type[_Item]
    push: type[_Item]
    preferences: type[_Item]
    vapid: type[_Item]
    schedule: type[_Item]
    run: type[_Item]
    approval: type[_Item]
    tool_mode: type[_Item]

    @classmethod
    def for_table(cls, table_name: str, region: str | None, endpoint_url: str | None) -> _Models:
        meta: dict[str, Any] = {"table_name": table_name}
        if region:
            meta["region"] = region
        if endpoint_url:  # only then: a host set on the model escapes moto's mock_aws
            meta["host"] = endpoint_url

        def bind(schema: type[M]) -> type[M]:
            return _bind(schema, type("Meta", (), dict(meta)))

        models = cls(
            item=bind(_Item),
            session=bind(_SESSION),
            message=bind(_MESSAGE),
            artifact=bind(_ARTIFACT),
            activity=bind(_ACTIVITY),
            throttle=bind(_THROTTLE),
            request=bind(_REQUEST),
            text_part=bind(_TEXT_PART),
            push=bind(_PUSH),
            preferences=bind(_PREFERENCES),
            vapid=bind(_VAPID),
            schedule=bind(_SCHEDULE),
            run=bind(_RUN),
            approval=bind(_APPROVAL),
            tool_mode=bind(_TOOL_MODE),
        )
        # PynamoDB would make a botocore client (and connection pool) per class; they all share the
        # table's keys, so one connection serves them all. Its client is built now: threads that race
        # to a first request would each build one (slow, and all but one thrown away).
        connection = models.item._get_connection()
        for model in (
            models.session,
            models.message,
            models.artifact,
            models.activity,
            models.throttle,
            models.request,
            models.text_part,
            models.push,
            models.preferences,
            models.vapid,
            models.schedule,
            models.run,
            models.approval,
            models.tool_mode,
        ):
            model._connection = connection
        _ = connection.connection.client
        return models


# conversion ------------------------------------------------------------------------------------


def _plain_value(value: Any) -> Any:
    if isinstance(value, MapAttribute):
        return value.as_dict()
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


def _record(cls: type[R], item: Model) -> R:
    return codec.from_plain(
        cls,
        {f.name: _plain_value(getattr(item, f.name, None)) for f in fields(cls)},  # type: ignore[arg-type]
    )


def _item_value(value: Any) -> Any:
    if isinstance(value, tuple | list):  # tool calls, the only sequence field
        return [_ToolCallMap(**(to_plain(v) if isinstance(v, ToolCall) else v)) for v in value]
    return value


def _attributes(record: object) -> dict[str, Any]:
    return {name: _item_value(value) for name, value in to_plain(record).items()}


def _assign(attribute: Attribute[Any], value: Any) -> Action:
    return attribute.remove() if value is None else attribute.set(_item_value(value))


def _a(model: type[_Item], name: str) -> Any:
    """A record field's attribute on an item class (for expressions)."""
    return getattr(model, name)


def _lost(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == _LOST


def _update_existing(item: _Item, actions: list[Action], what: str) -> None:
    """Apply `actions` to `item` only if it exists; NotFound(`what`) when it does not (never creates)."""
    try:
        item.update(actions=actions, condition=type(item).PK.exists())
    except UpdateError as exc:
        if _lost(exc):
            raise NotFound(what) from exc
        raise


def _save_new(item: _Item) -> bool:
    """Put `item` only if no item has its key: False (nothing written) when one exists."""
    try:
        item.save(condition=type(item).PK.does_not_exist())
    except PutError as exc:
        if _lost(exc):
            return False
        raise
    return True


def _same(attribute: Attribute[Any], value: Any) -> Condition:
    """The stored attribute still holds `value` (None: absent; False: absent or false)."""
    if value is None:
        return attribute.does_not_exist()
    if value is False:
        return attribute.does_not_exist() | (attribute == False)  # noqa: E712 - an expression, not a test
    return attribute == value


_KINDS = ("check", "delete", "put", "update")  # the order in which PynamoDB sends a transaction's actions


class _Transaction:
    """One TransactWriteItems whose actions carry labels, so a cancellation says which action failed and why.
    Each transaction sends a fresh ClientRequestToken: when botocore sends it again (a lost answer), a
    transaction that did commit answers as committed instead of failing on its own writes."""

    def __init__(self) -> None:
        self._ops: dict[str, list[tuple[str, Callable[[TransactWrite], None]]]] = {
            "check": [],
            "delete": [],
            "put": [],
            "update": [],
        }

    @property
    def actions(self) -> int:
        return sum(len(ops) for ops in self._ops.values())

    @property
    def labels(self) -> list[str]:
        """In the order PynamoDB sends them (condition checks, deletes, puts, updates): that of the reasons."""
        return [label for kind in _KINDS for label, _ in self._ops[kind]]

    def check(self, label: str, item: _Item, condition: Condition) -> None:
        model = type(item)
        self._ops["check"].append((label, lambda write: write.condition_check(model, item.PK, item.SK, condition)))

    def put(self, label: str, item: _Item, condition: Condition | None = None) -> None:
        self._ops["put"].append((label, lambda write: write.save(item, condition=condition)))

    def update(self, label: str, item: _Item, actions: list[Action], condition: Condition | None = None) -> None:
        self._ops["update"].append((label, lambda write: write.update(item, actions=actions, condition=condition)))

    def delete(self, label: str, item: _Item) -> None:
        self._ops["delete"].append((label, lambda write: write.delete(item)))

    def commit(self, connection: Any) -> None:
        with TransactWrite(connection=connection, client_request_token=uuid.uuid4().hex) as write:
            for kind in _KINDS:
                for _, add in self._ops[kind]:
                    add(write)


def _map_key(key: str) -> str:
    """A map key safe in a PynamoDB document path, which would read `[n]` as a list index."""
    return "".join(_MAP_KEY_ESCAPES.get(c, c) for c in key)


def _ttl(expires_at: float) -> int:
    return math.ceil(expires_at)


def _session_pk(session_id: str) -> str:
    return SESSION_PREFIX + session_id


def _schedule_pk(schedule_id: str) -> str:
    return SCHEDULE_PREFIX + schedule_id


class DynamoStore:
    """The Store on the single DynamoDB table. Every change is one conditional or atomic request
    (PutItem/UpdateItem with conditions, ADD, SET/REMOVE on map paths), never read-modify-write.
    `region` and credentials default to the environment's (AWS_REGION in ECS and Lambda);
    `endpoint_url` points it at DynamoDB Local or moto_server."""

    def __init__(self, table_name: str, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        if not table_name:
            raise ValueError("table_name is required")
        self.table_name = table_name
        self._m = _Models.for_table(table_name, region, endpoint_url)

    # sessions ------------------------------------------------------------------------------

    def create_session(self, session: SessionRecord) -> None:
        record = codec.validated(session)
        model = self._m.session
        item = model(
            _session_pk(record.id),
            META,
            GSI1PK=USER_PARTITION,
            GSI1SK=codec.session_recency_key(record.updated_at, record.id),
            **_attributes(record),
        )
        if not _save_new(item):
            raise Conflict(f"session {record.id} exists")

    def get_session(self, session_id: str) -> SessionRecord:
        try:
            item = self._m.session.get(_session_pk(session_id), META, consistent_read=True)
        except self._m.session.DoesNotExist as exc:
            raise NotFound(f"session {session_id}") from exc
        return _record(SessionRecord, item)

    def _session_actions(
        self, session_id: str, changes: Mapping[str, Any], deltas: Mapping[str, Any], at: float | None
    ) -> list[Action]:
        """One update of the session item: SET (or REMOVE) the changes, ADD the counters' deltas (never a
        computed SET: a concurrent writer's count is never lost), and `at` as updated_at with the recency key."""
        model = self._m.session
        actions = [_assign(_a(model, name), value) for name, value in changes.items()]
        actions += [_a(model, name).add(delta) for name, delta in deltas.items()]
        if at is not None:  # the recency key moves with updated_at, in the same request
            actions.append(_a(model, "updated_at").set(at))
            actions.append(model.GSI1SK.set(codec.session_recency_key(at, session_id)))
        return actions

    def _update_session(self, session_id: str, actions: list[Action]) -> SessionRecord:
        if not actions:
            return self.get_session(session_id)
        item = self._m.session(_session_pk(session_id), META)
        _update_existing(item, actions, f"session {session_id}")
        return _record(SessionRecord, item)

    def update_session(self, session_id: str, **changes: object) -> SessionRecord:
        values = codec.session_changes(changes)
        at = values.pop("updated_at", None)
        return self._update_session(session_id, self._session_actions(session_id, values, {}, at))

    def add_session_usage(
        self,
        session_id: str,
        *,
        messages: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
        stopped_replies: int = 0,
        at: float | None = None,
    ) -> SessionRecord:
        deltas = codec.usage_deltas(
            messages=messages,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            stopped_replies=stopped_replies,
        )
        at = None if at is None else codec.check_time(at, "at")
        return self._update_session(session_id, self._session_actions(session_id, {}, deltas, at))

    def list_sessions(
        self, *, limit: int = 50, cursor: str | None = None, include_archived: bool = True
    ) -> Page[SessionRecord]:
        codec.check_limit(limit)
        after = codec.decode_cursor(cursor, codec.SESSIONS_SCOPE)
        model = self._m.session
        recency = model.GSI1SK
        rows = model.gsi1.query(
            USER_PARTITION,
            range_key_condition=None if after is None else recency < after,
            filter_condition=None if include_archived else _a(model, "status") != "archived",
            scan_index_forward=False,
            limit=limit + 1,
        )
        return codec.make_page(
            [_record(SessionRecord, item) for item in rows],
            limit,
            codec.SESSIONS_SCOPE,
            lambda s: codec.session_recency_key(s.updated_at, s.id),
        )

    def delete_session(self, session_id: str) -> None:
        self.get_session(session_id)
        model = self._m.item
        keys = ["PK", "SK"]
        linked: Iterable[_Item] = [
            *model.query(
                _session_pk(session_id),
                model.SK.startswith(MESSAGE_PREFIX),
                consistent_read=True,
                attributes_to_get=keys,
            ),
            *model.query(
                _session_pk(session_id),
                model.SK.startswith(REQUEST_PREFIX),
                consistent_read=True,
                attributes_to_get=keys,
            ),
            *model.query(
                _session_pk(session_id),
                model.SK.startswith(APPROVAL_PREFIX),
                consistent_read=True,
                attributes_to_get=keys,
            ),
            *model.query(
                _session_pk(session_id),
                model.SK.startswith(TEXT_PREFIX),
                consistent_read=True,
                attributes_to_get=keys,
            ),
            *model.gsi1.query(ARTIFACTS_PREFIX + session_id, attributes_to_get=keys),
        ]
        with model.batch_write() as batch:
            for item in linked:
                batch.delete(item)
        # The session's own item goes last, so a delete that died half-way can simply be repeated.
        model(_session_pk(session_id), META).delete()

    def sessions_with_running_turns(self) -> list[SessionRecord]:
        # A filtered query over the recency index rather than the activity item's running_turns map: it
        # answers exactly what the contract asks (the sessions' own running_turn_id, which survives
        # whatever happened to the activity item), and it runs once per start over one person's sessions.
        model = self._m.session
        rows = model.gsi1.query(
            USER_PARTITION, filter_condition=_a(model, "running_turn_id").exists(), scan_index_forward=False
        )
        return [_record(SessionRecord, item) for item in rows]

    # a turn's writes: each one TransactWriteItems ------------------------------------------------

    def _connection(self) -> Any:
        return self._m.item._get_connection().connection

    def _read(self, *keys: tuple[type[_Item], str, str]) -> list[_Item | None]:
        """Items by key in one request, read consistently (None: absent); several in one TransactGetItems."""
        if len(keys) == 1:
            model, pk, sk = keys[0]
            try:
                return [model.get(pk, sk, consistent_read=True)]
            except model.DoesNotExist:
                return [None]
        for _ in range(_ATTEMPTS):
            futures = []
            try:
                with TransactGet(connection=self._connection()) as read:
                    futures = [read.get(model, pk, sk) for model, pk, sk in keys]
            except TransactGetError as exc:  # a transaction was writing one of them: read again
                if exc.cause_response_code == "TransactionCanceledException":
                    continue
                raise
            found: list[_Item | None] = []
            for future, (model, _, _) in zip(futures, keys, strict=True):
                try:
                    found.append(future.get())
                except model.DoesNotExist:
                    found.append(None)
            return found
        raise Conflict("items kept changing while read")

    def _commit(self, transaction: _Transaction) -> set[str]:
        """Send `transaction`: an empty set when it committed, else (nothing written) the labels of the actions
        whose condition failed, or _AGAIN when it is worth sending again after reading again (another
        transaction held an item, throttling). When the activity item's maps do not exist yet (a new table),
        they are created and the transaction sent once more; any other error is raised."""
        for first in (True, False):
            try:
                transaction.commit(self._connection())
                return set()
            except TransactWriteError as exc:
                code, text = exc.cause_response_code, exc.cause_response_message or ""
                reasons = {
                    label: reason.code
                    for label, reason in zip(transaction.labels, exc.cancellation_reasons, strict=False)
                    if reason is not None
                }
                # DynamoDB names the action (ValidationError); DynamoDB Local and moto refuse the request whole.
                maps_missing = reasons.get("activity") == "ValidationError" or (
                    code == "ValidationException" and "document path" in text and "activity" in transaction.labels
                )
                if maps_missing and first:
                    self._create_activity_maps()
                    continue
                if code != "TransactionCanceledException":
                    raise
                failed = {label for label, reason in reasons.items() if reason == "ConditionalCheckFailed"}
                passing = {label for label, reason in reasons.items() if reason in _PASSING}
                if failed | passing != set(reasons):
                    raise
                return failed or {_AGAIN}
        raise AssertionError("unreachable")  # pragma: no cover

    def _fits(self, text: str) -> bool:
        """Whether the whole of `text` (its parts when it overflows the item) fits in one transaction."""
        return len(text.encode("utf-8")) <= TRANSACTION_TEXT_BYTES

    def accept_message(
        self,
        message: MessageRecord,
        *,
        name: Callable[[], str],
        claim: AcceptedRequest | None = None,
        check: Callable[[], None] | None = None,
        user_action: bool = True,
    ) -> SessionRecord:
        """Two requests: one TransactGetItems reads the session and the key's claim, one TransactWriteItems
        writes the claim, the message (and its text parts), one update of the session item (its changes, the
        count ADDed, updated_at) and the person's last action. The update holds only while the session's
        status, name and running turn are still as read (the rules were applied to them): when another writer
        changed them, or took the key, in between, it is all read and tried again. A text too long for one
        transaction (over TRANSACTION_TEXT_BYTES, far beyond BLU_MAX_MESSAGE_CHARS) is kept whole after it, as
        put_message does: a crash in between leaves the message marked `truncated` with its cut text."""
        record = codec.fit_message(message)
        at = codec.check_time(message.created_at, "created_at")
        sid = record.session_id
        keys: list[tuple[type[_Item], str, str]] = [(self._m.session, _session_pk(sid), META)]
        if claim is not None:
            claim = codec.validated(claim)
            codec.check_key(claim.key, "key")
            if claim.session_id != sid:
                raise ValueError("the claim must be for the message's session")
            keys.append((self._m.request, _session_pk(sid), REQUEST_PREFIX + claim.key))
        overflows = codec.text_overflows(message.text)
        parts_inside = overflows and self._fits(message.text)
        deltas = codec.usage_deltas(messages=1, input_tokens=0, output_tokens=0, cost_usd=0.0, stopped_replies=0)
        model = self._m.session
        new_message = True  # False once the message's id is found stored: kept as it is (put_message)
        for _ in range(_ATTEMPTS):
            found = self._read(*keys)
            held = None if claim is None or found[1] is None else _record(AcceptedRequest, found[1])
            if held is not None and held.expires_at >= at:
                raise KeyClaimed(held)
            if check is not None:
                check()
            if found[0] is None:
                raise NotFound(f"session {sid}")
            session = _record(SessionRecord, found[0])
            changes = codec.accepted_changes(session, record.turn_id, name)
            transaction = _Transaction()
            if claim is not None:
                transaction.put("claim", self._claim_item(claim), condition=self._claimable(at))
            if new_message:
                self._put_new_message(transaction, record, message.text if parts_inside else None)
            transaction.update(
                "session",
                model(_session_pk(sid), META),
                self._session_actions(sid, changes, deltas, at),
                condition=model.PK.exists()
                & _same(_a(model, "status"), session.status)
                & _same(_a(model, "name"), session.name)
                & _same(_a(model, "running_turn_id"), session.running_turn_id),
            )
            if user_action:
                transaction.update(
                    "user action",
                    self._m.activity(SYSTEM, ACTIVITY),
                    [_a(self._m.activity, "last_user_action_at").set(at)],
                )
            failed = self._commit(transaction)
            if not failed:
                if new_message and overflows and not parts_inside:
                    self._keep_text(sid, record.id, message.text)
                return codec.with_usage(replace(session, **changes), deltas, at)
            if "message" in failed:
                new_message = False
        raise Conflict(f"session {sid} kept changing while a message was accepted")

    def _put_new_message(self, transaction: _Transaction, record: MessageRecord, parts_of: str | None) -> None:
        """A message's item (written only when its id is new) and, when `parts_of` is given, the text parts
        of that whole text, in the same transaction."""
        transaction.put("message", self._message_item(record), condition=self._m.message.PK.does_not_exist())
        for n, part in enumerate(codec.text_parts(parts_of) if parts_of is not None else []):
            transaction.put("part", self._part_item(record.session_id, record.id, n, part))

    def start_turn(self, reply: MessageRecord) -> None:
        """One TransactWriteItems, no read: the reply's record (put only when absent), one update of the
        session item (on the condition that it exists) and the running turn in the activity item. A long
        text is kept as in accept_message."""
        record = codec.fit_message(reply)
        changes = codec.started_changes(reply)
        sid = record.session_id
        overflows = codec.text_overflows(reply.text)
        parts_inside = overflows and self._fits(reply.text)
        model = self._m.session
        new_message = True
        for _ in range(_ATTEMPTS):
            transaction = _Transaction()
            if new_message:
                self._put_new_message(transaction, record, reply.text if parts_inside else None)
            transaction.update(
                "session",
                model(_session_pk(sid), META),
                self._session_actions(sid, changes, {}, None),
                condition=model.PK.exists(),
            )
            transaction.update(
                "activity", self._m.activity(SYSTEM, ACTIVITY), [self._running_turn(sid, record.turn_id)]
            )
            failed = self._commit(transaction)
            if not failed:
                if new_message and overflows and not parts_inside:
                    self._keep_text(sid, record.id, reply.text)
                return
            if "session" in failed:
                raise NotFound(f"session {sid}")
            if "message" in failed:
                new_message = False
        raise Conflict(f"session {sid}: a turn's start kept failing")

    def end_turn(
        self,
        session_id: str,
        message_id: str,
        *,
        reply: Mapping[str, object],
        usage: Mapping[str, float],
        session: Mapping[str, object],
        at: float,
    ) -> tuple[MessageRecord, SessionRecord]:
        """Two requests: one TransactGetItems reads the reply and the session (the records returned are these
        plus the changes: TransactWriteItems returns no item), one TransactWriteItems writes the reply's
        changes (with its text parts), one update of the session item (its changes, the usage ADDed, updated_at)
        and clears the running turn in the activity item. A reply that holds a cut text needs a third request
        (a query of its text parts, to drop those it no longer needs). The reply's update holds only while
        its `truncated` is as read (which text parts exist). A text too long for one transaction
        (TRANSACTION_TEXT_BYTES; a reply still growing, whose checkpoints keep it the same way) is kept
        whole first by update_message, the reply still `running`, so a crash in between leaves the turn
        marked for recovery; the rest is then one transaction as above."""
        changes, deltas, at = codec.ended_changes(session, usage, at)
        values = codec.message_changes(reply)
        given = reply.get("text")
        text = given if isinstance(given, str) else None
        text_first = text is not None and not self._fits(text)
        if text_first:
            self.update_message(session_id, message_id, text=text)
        message, model = self._m.message, self._m.session
        pk = _session_pk(session_id)
        for _ in range(_ATTEMPTS):
            stored_item, session_item = self._read((message, pk, MESSAGE_PREFIX + message_id), (model, pk, META))
            if stored_item is None:
                raise NotFound(f"message {session_id}/{message_id}")
            if session_item is None:
                raise NotFound(f"session {session_id}")
            stored, current = _record(MessageRecord, stored_item), _record(SessionRecord, session_item)
            transaction = _Transaction()
            if text is not None and not text_first and (stored.truncated or codec.text_overflows(text)):
                parts = codec.text_parts(text) if codec.text_overflows(text) else []
                for n, part in enumerate(parts):
                    transaction.put("part", self._part_item(session_id, message_id, n, part))
                kept = {self._part_item(session_id, message_id, n).SK for n in range(len(parts))}
                for item in self._text_part_keys(session_id, message_id) if stored.truncated else []:
                    if item.SK not in kept:
                        transaction.delete("part", item)
                if transaction.actions + 3 > TRANSACTION_ACTIONS:  # many stale parts: keep the text first
                    self.update_message(session_id, message_id, text=text)
                    text_first = True
                    continue
            unchanged = message.PK.exists() & _same(_a(message, "truncated"), stored.truncated)
            if values:
                actions = [_assign(_a(message, name), value) for name, value in values.items()]
                transaction.update("message", message(pk, MESSAGE_PREFIX + message_id), actions, unchanged)
            else:
                transaction.check("message", message(pk, MESSAGE_PREFIX + message_id), unchanged)
            transaction.update(
                "session", model(pk, META), self._session_actions(session_id, changes, deltas, at), model.PK.exists()
            )
            transaction.update("activity", self._m.activity(SYSTEM, ACTIVITY), [self._running_turn(session_id, None)])
            if not self._commit(transaction):
                return replace(stored, **values), codec.with_usage(replace(current, **changes), deltas, at)
        raise Conflict(f"session {session_id} kept changing while a turn ended")

    # messages ------------------------------------------------------------------------------

    def _message_item(self, record: MessageRecord) -> _Item:
        return self._m.message(_session_pk(record.session_id), MESSAGE_PREFIX + record.id, **_attributes(record))

    def _part_item(self, session_id: str, message_id: str, number: int, part: str | None = None) -> _Item:
        return self._m.text_part(_session_pk(session_id), f"{TEXT_PREFIX}{message_id}#{number:04d}", text=part)

    def put_message(self, message: MessageRecord) -> bool:
        record = codec.fit_message(message)
        if not _save_new(self._message_item(record)):
            return False
        # After the record: a crash in between leaves a record marked `truncated`, never parts alone.
        if codec.text_overflows(message.text):
            self._keep_text(record.session_id, record.id, message.text)
        return True

    def _text_part_keys(self, session_id: str, message_id: str) -> list[_Item]:
        model = self._m.text_part
        return list(
            model.query(
                _session_pk(session_id),
                model.SK.startswith(f"{TEXT_PREFIX}{message_id}#"),
                consistent_read=True,
                attributes_to_get=["PK", "SK"],
            )
        )

    def _keep_text(self, session_id: str, message_id: str, text: str) -> None:
        """Keep the whole text in parts beside a record that holds it cut; drop parts it no longer needs."""
        model = self._m.text_part
        parts = codec.text_parts(text) if codec.text_overflows(text) else []
        keys = {f"{TEXT_PREFIX}{message_id}#{n:04d}" for n in range(len(parts))}
        stale = [item for item in self._text_part_keys(session_id, message_id) if item.SK not in keys]
        with model.batch_write() as batch:
            for n, part in enumerate(parts):
                batch.save(self._part_item(session_id, message_id, n, part))
            for item in stale:
                batch.delete(item)

    def get_message_text(self, session_id: str, message_id: str) -> str:
        record = self.get_message(session_id, message_id)
        if not record.truncated:
            return record.text
        model = self._m.text_part
        parts = model.query(
            _session_pk(session_id), model.SK.startswith(f"{TEXT_PREFIX}{message_id}#"), consistent_read=True
        )
        whole = "".join(str(getattr(part, "text", "") or "") for part in parts)
        return whole or record.text

    def update_message(self, session_id: str, message_id: str, **changes: object) -> MessageRecord:
        values = codec.message_changes(changes)
        if not values:
            return self.get_message(session_id, message_id)
        model = self._m.message
        item = model(_session_pk(session_id), MESSAGE_PREFIX + message_id)
        _update_existing(
            item,
            [_assign(_a(model, name), value) for name, value in values.items()],
            f"message {session_id}/{message_id}",
        )
        record = _record(MessageRecord, item)
        text = changes.get("text")
        if isinstance(text, str) and (record.truncated or codec.text_overflows(text)):
            self._keep_text(session_id, message_id, text)
        return record

    def get_message(self, session_id: str, message_id: str) -> MessageRecord:
        model = self._m.message
        try:
            item = model.get(_session_pk(session_id), MESSAGE_PREFIX + message_id, consistent_read=True)
        except model.DoesNotExist as exc:
            raise NotFound(f"message {session_id}/{message_id}") from exc
        return _record(MessageRecord, item)

    def list_messages(
        self, session_id: str, *, limit: int = 50, cursor: str | None = None, newest_first: bool = False
    ) -> Page[MessageRecord]:
        codec.check_limit(limit)
        scope = codec.messages_scope(session_id, newest_first)
        after = codec.decode_cursor(cursor, scope)
        model = self._m.message
        pk = _session_pk(session_id)
        rows = model.query(
            pk,
            model.SK.startswith(MESSAGE_PREFIX),
            consistent_read=True,
            scan_index_forward=not newest_first,
            limit=limit + 1,
            last_evaluated_key=None if after is None else {"PK": {"S": pk}, "SK": {"S": MESSAGE_PREFIX + after}},
        )
        return codec.make_page([_record(MessageRecord, item) for item in rows], limit, scope, lambda m: m.id)

    # artifacts -----------------------------------------------------------------------------

    def put_artifact(self, artifact: ArtifactRecord) -> None:
        record = codec.validated(artifact)
        self._m.artifact(
            ARTIFACT_PREFIX + record.path,
            SESSION_PREFIX + record.session_id,
            GSI1PK=ARTIFACTS_PREFIX + record.session_id,
            GSI1SK=codec.time_key(record.updated_at),
            **_attributes(record),
        ).save()

    def list_artifacts(self, session_id: str) -> list[ArtifactRecord]:
        rows = self._m.artifact.gsi1.query(ARTIFACTS_PREFIX + session_id, scan_index_forward=False)
        return codec.order_artifacts([_record(ArtifactRecord, item) for item in rows])

    def sessions_for_path(self, path: str) -> list[ArtifactRecord]:
        model = self._m.artifact
        rows = model.query(ARTIFACT_PREFIX + path, model.SK.startswith(SESSION_PREFIX), consistent_read=True)
        return codec.order_artifacts([_record(ArtifactRecord, item) for item in rows])

    # search --------------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 30) -> SearchResults:
        """Without a full-text index: the sessions (one query of the recency index) are matched by name,
        then each session's artifacts and messages are read (one query each, newest session first) and
        matched here. It stops once no older session can hold a newer message than the `limit` found
        (a message is never newer than its session's `updated_at`), or after SEARCH_READ_BUDGET message
        items (`complete: False`). See docs/protocol.md ("Search") for the cost and the way to an index."""
        codec.check_limit(limit)
        terms = codec.search_terms(query)
        if not terms:
            return SearchResults(hits=[])
        model = self._m.session
        sessions = [_record(SessionRecord, item) for item in model.gsi1.query(USER_PARTITION, scan_index_forward=False)]
        hits = [
            SearchHit("session", s.id, s.name, s.updated_at, snippet=s.name)
            for s in sessions
            if codec.search_matches(s.name, terms)
        ]
        found: list[SearchHit] = []
        read = 0
        complete = True
        for session in sessions:
            if len(found) >= limit and session.updated_at < sorted(h.at for h in found)[-limit]:
                break
            if read >= SEARCH_READ_BUDGET:
                complete = False
                break
            for artifact in self.list_artifacts(session.id):
                if codec.search_matches(artifact.path, terms):
                    found.append(
                        SearchHit(
                            "artifact",
                            session.id,
                            session.name,
                            artifact.updated_at,
                            path=artifact.path,
                            snippet=artifact.path,
                        )
                    )
            messages = self._m.message.query(_session_pk(session.id), self._m.message.SK.startswith(MESSAGE_PREFIX))
            for item in messages:
                read += 1
                message = _record(MessageRecord, item)
                if codec.search_matches(message.text, terms):
                    found.append(
                        SearchHit(
                            "message",
                            session.id,
                            session.name,
                            message.created_at,
                            message_id=message.id,
                            role=message.role,
                            snippet=codec.search_snippet(message.text, terms),
                            sent_by=message.sent_by,
                        )
                    )
        return SearchResults(hits=codec.order_hits(hits + found, limit), complete=complete)

    # activity heartbeat --------------------------------------------------------------------

    def _update_activity(self, actions: list[Action]) -> None:
        self._m.activity(SYSTEM, ACTIVITY).update(actions=actions)

    def _update_activity_map(self, action: Action) -> None:
        try:
            self._update_activity([action])
        except UpdateError as exc:
            if exc.cause_response_code != "ValidationException":
                raise
            self._create_activity_maps()
            self._update_activity([action])

    def _create_activity_maps(self) -> None:
        """A map that does not exist yet makes its paths invalid: create both maps empty where absent
        (if_not_exists leaves a concurrent writer's map alone)."""
        maps = [_a(self._m.activity, name) for name in ("running_turns", "voice_rooms")]
        self._update_activity([attribute.set(attribute | {}) for attribute in maps])

    def _running_turn(self, session_id: str, turn_id: str | None) -> Action:
        path = _a(self._m.activity, "running_turns")[_map_key(codec.check_key(session_id, "session id"))]
        return path.remove() if turn_id is None else path.set(turn_id)

    def get_activity(self) -> ActivityRecord:
        model = self._m.activity
        try:
            item = model.get(SYSTEM, ACTIVITY, consistent_read=True)
        except model.DoesNotExist:
            return ActivityRecord()
        record = _record(ActivityRecord, item)
        return replace(
            record,
            running_turns={unquote(k): v for k, v in record.running_turns.items()},
            voice_rooms={unquote(k): v for k, v in record.voice_rooms.items()},
        )

    def record_user_action(self, at: float) -> None:
        self._update_activity([_a(self._m.activity, "last_user_action_at").set(codec.check_time(at, "at"))])

    def record_logout(self, at: float) -> None:
        self._update_activity([_a(self._m.activity, "logged_out_at").set(codec.check_time(at, "at"))])

    def heartbeat(self, at: float) -> None:
        self._update_activity([_a(self._m.activity, "heartbeat_at").set(codec.check_time(at, "at"))])

    def set_turn_running(self, session_id: str, turn_id: str | None) -> None:
        self._update_activity_map(self._running_turn(session_id, turn_id))

    def set_voice_room(self, room: str, opened_at: float | None) -> None:
        path = _a(self._m.activity, "voice_rooms")[_map_key(codec.check_key(room, "room"))]
        self._update_activity_map(
            path.remove() if opened_at is None else path.set(codec.check_time(opened_at, "opened_at"))
        )

    # login throttling ----------------------------------------------------------------------

    def get_throttle(self, client: str) -> ThrottleRecord | None:
        model = self._m.throttle
        try:
            item = model.get(AUTH_PREFIX + client, THROTTLE, consistent_read=True)
        except model.DoesNotExist:
            return None
        return _record(ThrottleRecord, item)

    def record_login_failure(self, client: str, *, at: float, expires_at: float) -> ThrottleRecord:
        codec.check_key(client, "client")
        at, expires_at = codec.check_time(at, "at"), codec.check_time(expires_at, "expires_at")
        model = self._m.throttle
        pk = AUTH_PREFIX + client
        for _ in range(5):
            item = model(pk, THROTTLE)
            try:
                # Count on while the record is live (codec.throttle_expired, as a condition) ...
                item.update(
                    actions=[
                        _a(model, "client").set(client),
                        _a(model, "failures").add(1),
                        _a(model, "expires_at").set(expires_at),
                        _a(model, "ttl").set(_ttl(expires_at)),
                    ],
                    condition=model.PK.does_not_exist() | (_a(model, "expires_at") >= at),
                )
                return _record(ThrottleRecord, item)
            except UpdateError as exc:
                if not _lost(exc):
                    raise
            # ... or replace an expired one, unless another writer got there first: then count again.
            fresh = codec.count_login_failure(None, client, at=at, expires_at=expires_at)
            try:
                model(pk, THROTTLE, ttl=_ttl(expires_at), **_attributes(fresh)).save(
                    condition=_a(model, "expires_at") < at
                )
                return fresh
            except PutError as exc:
                if not _lost(exc):
                    raise
        raise Conflict(f"throttle record of {client} kept changing")

    def claim_login_attempt(
        self, client: str, *, at: float, expires_at: float, lock_for: Callable[[int], float]
    ) -> tuple[ThrottleRecord, bool]:
        codec.check_key(client, "client")
        at, expires_at = codec.check_time(at, "at"), codec.check_time(expires_at, "expires_at")
        model = self._m.throttle
        for _ in range(8):
            current = self.get_throttle(client)
            claimed = codec.claim_login_attempt(current, client, at=at, expires_at=expires_at, lock_for=lock_for)
            if claimed is None:
                assert current is not None
                return current, False
            # Compare-and-set on what was read: of parallel attempts exactly one writes each count.
            if current is None:
                condition = model.PK.does_not_exist()
            else:
                condition = (_a(model, "failures") == current.failures) & (
                    _a(model, "locked_until") == current.locked_until
                )
            try:
                model(AUTH_PREFIX + client, THROTTLE, ttl=_ttl(expires_at), **_attributes(claimed)).save(
                    condition=condition
                )
                return claimed, True
            except PutError as exc:
                if not _lost(exc):
                    raise
        raise Conflict(f"throttle record of {client} kept changing")

    def lock_client(self, client: str, *, locked_until: float) -> None:
        model = self._m.throttle
        _update_existing(
            model(AUTH_PREFIX + client, THROTTLE),
            [_a(model, "locked_until").set(codec.check_time(locked_until, "locked_until"))],
            f"throttle {client}",
        )

    def clear_throttle(self, client: str) -> None:
        self._m.throttle(AUTH_PREFIX + client, THROTTLE).delete()

    # idempotency keys ----------------------------------------------------------------------

    def claim_request(self, request: AcceptedRequest, *, at: float) -> AcceptedRequest | None:
        request = codec.validated(request)
        codec.check_key(request.key, "key")
        at = codec.check_time(at, "at")
        model = self._m.request
        item = self._claim_item(request)
        for _ in range(5):
            try:
                item.save(condition=self._claimable(at))
                return None
            except PutError as exc:
                if not _lost(exc):
                    raise
            try:
                return _record(
                    AcceptedRequest,
                    model.get(item.PK, item.SK, consistent_read=True),
                )
            except model.DoesNotExist:
                continue  # deleted meanwhile: claim again
        raise Conflict(f"idempotency key {request.key} kept changing")

    def _claim_item(self, request: AcceptedRequest) -> _Item:
        return self._m.request(
            _session_pk(request.session_id),
            REQUEST_PREFIX + request.key,
            ttl=_ttl(request.expires_at),
            **_attributes(request),
        )

    def _claimable(self, at: float) -> Condition:
        """No live claim holds the key at `at` (none, or an expired one that DynamoDB's TTL has not deleted)."""
        model = self._m.request
        return model.PK.does_not_exist() | (_a(model, "expires_at") < at)

    def forget_request(self, session_id: str, key: str) -> None:
        self._m.request(_session_pk(session_id), REQUEST_PREFIX + key).delete()

    # notifications -------------------------------------------------------------------------

    def put_push_subscription(self, subscription: PushSubscriptionRecord) -> None:
        record = codec.validated(subscription)
        self._m.push(NOTIFY, PUSH_PREFIX + record.id, **_attributes(record)).save()

    def list_push_subscriptions(self) -> list[PushSubscriptionRecord]:
        model = self._m.push
        rows = model.query(NOTIFY, model.SK.startswith(PUSH_PREFIX), consistent_read=True)
        return codec.order_subscriptions([_record(PushSubscriptionRecord, item) for item in rows])

    def delete_push_subscription(self, subscription_id: str) -> bool:
        model = self._m.push
        try:
            model(NOTIFY, PUSH_PREFIX + subscription_id).delete(condition=model.PK.exists())
        except DeleteError as exc:
            if _lost(exc):
                return False
            raise
        return True

    def get_notification_preferences(self) -> NotificationPreferences:
        model = self._m.preferences
        try:
            item = model.get(NOTIFY, PREFERENCES, consistent_read=True)
        except model.DoesNotExist:
            return NotificationPreferences()
        return _record(NotificationPreferences, item)

    def set_notification_preferences(self, preferences: NotificationPreferences) -> None:
        record = codec.validated(preferences)
        self._m.preferences(NOTIFY, PREFERENCES, **_attributes(record)).save()

    def claim_vapid_keys(self, keys: VapidKeys) -> VapidKeys:
        record = codec.validated(keys)
        model = self._m.vapid
        try:
            model(NOTIFY, VAPID, **_attributes(record)).save(condition=model.PK.does_not_exist())
        except PutError as exc:
            if not _lost(exc):
                raise
        return _record(VapidKeys, model.get(NOTIFY, VAPID, consistent_read=True))

    # schedules ----------------------------------------------------------------------------

    def create_schedule(self, schedule: ScheduleRecord) -> None:
        record = codec.validated(schedule)
        model = self._m.schedule
        item = model(
            _schedule_pk(record.id),
            META,
            GSI1PK=SCHEDULES_PARTITION,
            GSI1SK=codec.session_recency_key(record.created_at, record.id),
            **_attributes(record),
        )
        if not _save_new(item):
            raise Conflict(f"schedule {record.id} exists")

    def get_schedule(self, schedule_id: str) -> ScheduleRecord:
        model = self._m.schedule
        try:
            item = model.get(_schedule_pk(schedule_id), META, consistent_read=True)
        except model.DoesNotExist as exc:
            raise NotFound(f"schedule {schedule_id}") from exc
        return _record(ScheduleRecord, item)

    def update_schedule(self, schedule_id: str, **changes: object) -> ScheduleRecord:
        values = codec.schedule_changes(changes)
        if not values:
            return self.get_schedule(schedule_id)
        model = self._m.schedule
        item = model(_schedule_pk(schedule_id), META)
        _update_existing(
            item, [_assign(_a(model, name), value) for name, value in values.items()], f"schedule {schedule_id}"
        )
        return _record(ScheduleRecord, item)

    def list_schedules(self) -> list[ScheduleRecord]:
        rows = self._m.schedule.gsi1.query(SCHEDULES_PARTITION)
        return [_record(ScheduleRecord, item) for item in rows]

    def delete_schedule(self, schedule_id: str) -> None:
        self.get_schedule(schedule_id)
        model = self._m.item
        runs = model.query(
            _schedule_pk(schedule_id),
            model.SK.startswith(RUN_PREFIX),
            consistent_read=True,
            attributes_to_get=["PK", "SK"],
        )
        with model.batch_write() as batch:
            for item in runs:
                batch.delete(item)
        model(_schedule_pk(schedule_id), META).delete()  # last, so a half-done delete can be repeated

    def _run_item(self, run: ScheduleRunRecord) -> _Item:
        return self._m.run(_schedule_pk(run.schedule_id), RUN_PREFIX + run.id, **_attributes(run))

    def claim_schedule_run(
        self, run: ScheduleRunRecord, *, expected_next_run_at: float, next_run_at: float | None
    ) -> bool:
        record = codec.fit_run(run)
        expected = codec.check_time(expected_next_run_at, "expected_next_run_at")
        changes = codec.schedule_changes({"next_run_at": next_run_at, "last_run_at": record.started_at})
        schedule, run_model = self._m.schedule, self._m.run
        connection = self._m.item._get_connection().connection
        try:
            with TransactWrite(connection=connection) as transaction:
                transaction.update(
                    schedule(_schedule_pk(record.schedule_id), META),
                    actions=[_assign(_a(schedule, name), value) for name, value in changes.items()],
                    condition=schedule.PK.exists() & (_a(schedule, "next_run_at") == expected),
                )
                transaction.save(self._run_item(record), condition=run_model.PK.does_not_exist())
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                return False  # a condition failed: another claimer won, or the schedule changed
            raise
        return True

    def put_schedule_run(self, run: ScheduleRunRecord) -> bool:
        record = codec.fit_run(run)
        self.get_schedule(record.schedule_id)
        return _save_new(self._run_item(record))

    def update_schedule_run(self, schedule_id: str, run_id: str, **changes: object) -> ScheduleRunRecord:
        values = codec.run_changes(changes)
        if not values:
            return self.get_schedule_run(schedule_id, run_id)
        model = self._m.run
        item = model(_schedule_pk(schedule_id), RUN_PREFIX + run_id)
        _update_existing(
            item, [_assign(_a(model, name), value) for name, value in values.items()], f"run {schedule_id}/{run_id}"
        )
        return _record(ScheduleRunRecord, item)

    def get_schedule_run(self, schedule_id: str, run_id: str) -> ScheduleRunRecord:
        model = self._m.run
        try:
            item = model.get(_schedule_pk(schedule_id), RUN_PREFIX + run_id, consistent_read=True)
        except model.DoesNotExist as exc:
            raise NotFound(f"run {schedule_id}/{run_id}") from exc
        return _record(ScheduleRunRecord, item)

    def list_schedule_runs(
        self, schedule_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ScheduleRunRecord]:
        codec.check_limit(limit)
        scope = codec.runs_scope(schedule_id)
        after = codec.decode_cursor(cursor, scope)
        model = self._m.run
        pk = _schedule_pk(schedule_id)
        rows = model.query(
            pk,
            model.SK.startswith(RUN_PREFIX),
            consistent_read=True,
            scan_index_forward=False,
            limit=limit + 1,
            last_evaluated_key=None if after is None else {"PK": {"S": pk}, "SK": {"S": RUN_PREFIX + after}},
        )
        return codec.make_page([_record(ScheduleRunRecord, item) for item in rows], limit, scope, lambda r: r.id)

    def running_schedule_runs(self) -> list[ScheduleRunRecord]:
        model = self._m.run
        running: list[ScheduleRunRecord] = []
        for schedule in self.list_schedules():
            rows = model.query(
                _schedule_pk(schedule.id),
                model.SK.startswith(RUN_PREFIX),
                filter_condition=_a(model, "outcome") == "running",
                consistent_read=True,
            )
            running.extend(_record(ScheduleRunRecord, item) for item in rows)
        return running

    # export and import -------------------------------------------------------------------

    def _all_sessions(self) -> list[SessionRecord]:
        rows = self._m.session.gsi1.query(USER_PARTITION, scan_index_forward=False)
        return sorted((_record(SessionRecord, item) for item in rows), key=lambda s: s.id)

    def export_items(self, *, session_id: str | None = None) -> Iterator[portable.ExportedItem]:
        # Queries by key, no Scan: the task role needs nothing new. Not one consistent cut as in
        # SQLite (DynamoDB has no snapshot read across items); backups run between turns (runtime/backup).
        sessions = self._all_sessions() if session_id is None else [self.get_session(session_id)]
        for session in sessions:
            yield portable.export(portable.SESSION, session)
        model = self._m.message
        for session in sessions:
            rows = model.query(_session_pk(session.id), model.SK.startswith(MESSAGE_PREFIX), consistent_read=True)
            for item in rows:
                record = _record(MessageRecord, item)
                if record.truncated:
                    record = replace(record, text=self.get_message_text(session.id, record.id))
                yield portable.export(portable.MESSAGE, record)
        for session in sessions:
            for artifact in sorted(self.list_artifacts(session.id), key=lambda a: a.path):
                yield portable.export(portable.ARTIFACT, artifact)
        if session_id is not None:
            return  # schedules, their runs, the preferences and the tool policy are no session's (docs/backups.md)
        schedules = sorted(self.list_schedules(), key=lambda s: s.id)
        for schedule in schedules:
            yield portable.export(portable.SCHEDULE, schedule)
        runs = self._m.run
        for schedule in schedules:
            rows = runs.query(_schedule_pk(schedule.id), runs.SK.startswith(RUN_PREFIX), consistent_read=True)
            for item in rows:
                yield portable.export(portable.SCHEDULE_RUN, _record(ScheduleRunRecord, item))
        preferences = self._m.preferences
        try:
            stored = preferences.get(NOTIFY, PREFERENCES, consistent_read=True)
            yield portable.export(portable.NOTIFICATION_PREFERENCES, _record(NotificationPreferences, stored))
        except preferences.DoesNotExist:
            pass
        policy = self.get_tool_policy()  # sorted by tool name (the sort key), as LocalStore exports it
        if policy:
            yield portable.export(portable.TOOL_POLICY, ToolPolicyRecord(modes=policy))  # type: ignore[arg-type]

    def import_item(self, item: portable.ExportedItem, *, replace: bool = False) -> portable.ImportOutcome:
        record = portable.record_of(item)
        model: type[_Item]
        if isinstance(record, SessionRecord):
            model = self._m.session
            row = model(
                _session_pk(record.id),
                META,
                GSI1PK=USER_PARTITION,
                GSI1SK=codec.session_recency_key(record.updated_at, record.id),
                **_attributes(record),
            )
        elif isinstance(record, MessageRecord):
            model = self._m.message
            fitted = codec.fit_message(record)
            row = model(_session_pk(record.session_id), MESSAGE_PREFIX + record.id, **_attributes(fitted))
        elif isinstance(record, ScheduleRunRecord):
            return self._import_run(codec.fit_run(record), replace)
        elif isinstance(record, ToolPolicyRecord):
            return self._import_tool_policy(record, replace)
        elif isinstance(record, ScheduleRecord):
            model = self._m.schedule
            row = model(
                _schedule_pk(record.id),
                META,
                GSI1PK=SCHEDULES_PARTITION,
                GSI1SK=codec.session_recency_key(record.created_at, record.id),
                **_attributes(record),
            )
        elif isinstance(record, NotificationPreferences):
            model = self._m.preferences
            row = model(NOTIFY, PREFERENCES, **_attributes(record))
        else:
            model = self._m.artifact
            row = model(
                ARTIFACT_PREFIX + record.path,
                SESSION_PREFIX + record.session_id,
                GSI1PK=ARTIFACTS_PREFIX + record.session_id,
                GSI1SK=codec.time_key(record.updated_at),
                **_attributes(record),
            )
        try:
            row.save(condition=model.PK.does_not_exist())
            outcome: portable.ImportOutcome = "added"
        except PutError as exc:
            if not _lost(exc):
                raise
            if not replace:
                return "kept"
            row.save()
            outcome = "replaced"
        if isinstance(record, MessageRecord) and (outcome == "replaced" or codec.text_overflows(record.text)):
            self._keep_text(record.session_id, record.id, record.text)
        return outcome

    def _import_run(self, run: ScheduleRunRecord, replace: bool) -> portable.ImportOutcome:
        """A run is written only while its schedule exists (one transaction: a schedule deleted meanwhile
        leaves no run behind that nothing lists or deletes); "skipped" when it does not."""
        schedule, model = self._m.schedule, self._m.run
        connection = self._m.item._get_connection().connection
        for only_new in (True, False):
            try:
                with TransactWrite(connection=connection) as transaction:
                    transaction.condition_check(
                        schedule, _schedule_pk(run.schedule_id), META, condition=schedule.PK.exists()
                    )
                    transaction.save(self._run_item(run), condition=model.PK.does_not_exist() if only_new else None)
                return "added" if only_new else "replaced"
            except TransactWriteError as exc:
                if exc.cause_response_code != "TransactionCanceledException":
                    raise
            try:
                self.get_schedule(run.schedule_id)
            except NotFound:
                return "skipped"
            if not replace:
                return "kept"
        raise Conflict(f"run {run.schedule_id}/{run.id} could not be replaced")  # its schedule came and went

    def _import_tool_policy(self, record: ToolPolicyRecord, replace: bool) -> portable.ImportOutcome:
        """The whole policy: kept when one is here (an empty one is none) unless `replace`, else written
        as the record's, one item per tool, and the tools it does not name removed."""
        current = self.get_tool_policy()
        if current and not replace:
            return "kept"
        model = self._m.tool_mode
        with model.batch_write() as batch:
            for name in current.keys() - record.modes.keys():
                batch.delete(model(TOOL_POLICY, name))
            for name, mode in record.modes.items():
                batch.save(model(TOOL_POLICY, name, mode=mode))
        return "replaced" if current else "added"

    def clear_items(self) -> int:
        sessions = self._all_sessions()
        for session in sessions:
            self.delete_session(session.id)
        for schedule in self.list_schedules():
            self.delete_schedule(schedule.id)
        self._m.preferences(NOTIFY, PREFERENCES).delete()
        model = self._m.tool_mode
        with model.batch_write() as batch:
            for item in model.query(TOOL_POLICY, consistent_read=True):
                batch.delete(item)
        return len(sessions)

    # approvals and the tool policy -------------------------------------------------------

    def put_approval(self, approval: ApprovalRecord) -> bool:
        record = codec.fit_approval(approval)
        model = self._m.approval
        pending = record.status == "pending"
        item = model(
            _session_pk(record.session_id),
            APPROVAL_PREFIX + record.id,
            GSI1PK=PENDING_APPROVALS if pending else None,
            GSI1SK=f"{codec.time_key(record.created_at)}#{record.session_id}#{record.id}" if pending else None,
            **_attributes(record),
        )
        try:
            item.save(condition=model.PK.does_not_exist())
        except PutError as exc:
            if _lost(exc):
                return False
            raise
        return True

    def get_approval(self, session_id: str, approval_id: str) -> ApprovalRecord:
        model = self._m.approval
        try:
            item = model.get(_session_pk(session_id), APPROVAL_PREFIX + approval_id, consistent_read=True)
        except model.DoesNotExist as exc:
            raise NotFound(f"approval {session_id}/{approval_id}") from exc
        return _record(ApprovalRecord, item)

    def decide_approval(
        self, session_id: str, approval_id: str, decision: ApprovalRecord
    ) -> tuple[ApprovalRecord, bool]:
        codec.check_decision(decision)
        current = self.get_approval(session_id, approval_id)
        if current.status != "pending":
            return current, False
        record = codec.decided_approval(current, decision)
        model = self._m.approval
        names = ("status", "decided_at", "decided_by", "message", "answers", "always", "delivered")
        actions = [_assign(_a(model, name), getattr(record, name)) for name in names]
        item = model(_session_pk(session_id), APPROVAL_PREFIX + approval_id)
        try:
            # One conditional request: of two answers at once, exactly one finds the approval pending.
            item.update(
                actions=[*actions, model.GSI1PK.remove(), model.GSI1SK.remove()],
                condition=_a(model, "status") == "pending",
            )
        except UpdateError as exc:
            if _lost(exc):
                return self.get_approval(session_id, approval_id), False
            raise
        return _record(ApprovalRecord, item), True

    def mark_approval_delivered(self, session_id: str, approval_id: str, delivered: str) -> ApprovalRecord:
        model = self._m.approval
        item = model(_session_pk(session_id), APPROVAL_PREFIX + approval_id)
        _update_existing(item, [_a(model, "delivered").set(delivered)], f"approval {session_id}/{approval_id}")
        return _record(ApprovalRecord, item)

    def list_approvals(self, session_id: str, *, pending_only: bool = False) -> list[ApprovalRecord]:
        model = self._m.approval
        rows = [
            _record(ApprovalRecord, item)
            for item in model.query(_session_pk(session_id), model.SK.startswith(APPROVAL_PREFIX), consistent_read=True)
        ]
        if pending_only:
            rows = [row for row in rows if row.status == "pending"]
        return sorted(rows, key=lambda a: (a.created_at, a.id))

    def pending_approvals(self) -> list[ApprovalRecord]:
        # The index is eventually consistent: a just-decided approval may show for a moment (a badge).
        model = self._m.approval
        rows = [_record(ApprovalRecord, item) for item in model.gsi1.query(PENDING_APPROVALS)]
        return [row for row in rows if row.status == "pending"]

    def get_tool_policy(self) -> dict[str, str]:
        model = self._m.tool_mode
        return {
            item.SK: str(getattr(item, "mode"))  # noqa: B009 - the attribute comes from the schema
            for item in model.query(TOOL_POLICY, consistent_read=True)
            if getattr(item, "mode", None)
        }

    def set_tool_mode(self, name: str, mode: str | None) -> dict[str, str]:
        codec.check_tool_mode(name, mode)
        model = self._m.tool_mode
        if mode is None:
            model(TOOL_POLICY, name).delete()
        else:
            model(TOOL_POLICY, name, mode=mode).save()
        return self.get_tool_policy()

    def close(self) -> None:
        """Nothing to release: connections live in botocore's pool and close with the process."""
