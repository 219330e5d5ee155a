"""The AWS back-end of the store: PynamoDB on the single table that stacks/data.py creates."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
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
from pynamodb.exceptions import PutError, PynamoDBException, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from core.store import codec
from core.store.base import Conflict, NotFound
from core.store.models import (
    AcceptedRequest,
    ActivityRecord,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    Page,
    SessionRecord,
    ThrottleRecord,
    ToolCall,
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
APPROVAL_PREFIX = "APPROVAL#"
PENDING_APPROVALS = "APPROVALS#PENDING"  # GSI1PK of a pending approval; removed when it is decided
TOOL_POLICY = "TOOLPOLICY"  # one item per tool: PK TOOLPOLICY, SK the tool's name, `mode`
TEXT_PREFIX = "TEXT#"  # TEXT#{message id}#{part}: the whole text of a message whose item holds it cut

_LOST = "ConditionalCheckFailedException"
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


def _map_key(key: str) -> str:
    """A map key safe in a PynamoDB document path, which would read `[n]` as a list index."""
    return "".join(_MAP_KEY_ESCAPES.get(c, c) for c in key)


def _ttl(expires_at: float) -> int:
    return math.ceil(expires_at)


def _session_pk(session_id: str) -> str:
    return SESSION_PREFIX + session_id


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
        try:
            item.save(condition=model.PK.does_not_exist())
        except PutError as exc:
            if _lost(exc):
                raise Conflict(f"session {record.id} exists") from exc
            raise

    def get_session(self, session_id: str) -> SessionRecord:
        try:
            item = self._m.session.get(_session_pk(session_id), META, consistent_read=True)
        except self._m.session.DoesNotExist as exc:
            raise NotFound(f"session {session_id}") from exc
        return _record(SessionRecord, item)

    def _update_session(self, session_id: str, actions: list[Action], updated_at: float | None) -> SessionRecord:
        model = self._m.session
        if updated_at is not None:  # the recency key moves with updated_at, in the same request
            actions.append(model.GSI1SK.set(codec.session_recency_key(updated_at, session_id)))
        if not actions:
            return self.get_session(session_id)
        item = model(_session_pk(session_id), META)
        try:
            item.update(actions=actions, condition=model.PK.exists())
        except UpdateError as exc:
            if _lost(exc):
                raise NotFound(f"session {session_id}") from exc
            raise
        return _record(SessionRecord, item)

    def update_session(self, session_id: str, **changes: object) -> SessionRecord:
        values = codec.session_changes(changes)
        model = self._m.session
        actions = [_assign(_a(model, name), value) for name, value in values.items()]
        return self._update_session(session_id, actions, values.get("updated_at"))

    def add_session_usage(
        self,
        session_id: str,
        *,
        messages: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
        at: float | None = None,
    ) -> SessionRecord:
        deltas = codec.usage_deltas(
            messages=messages, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost_usd
        )
        model = self._m.session
        actions = [_a(model, name).add(delta) for name, delta in deltas.items()]
        if at is not None:
            at = codec.check_time(at, "at")
            actions.append(_a(model, "updated_at").set(at))
        return self._update_session(session_id, actions, at)

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

    # messages ------------------------------------------------------------------------------

    def put_message(self, message: MessageRecord) -> bool:
        record = codec.fit_message(message)
        model = self._m.message
        item = model(_session_pk(record.session_id), MESSAGE_PREFIX + record.id, **_attributes(record))
        try:
            item.save(condition=model.PK.does_not_exist())
        except PutError as exc:
            if _lost(exc):
                return False
            raise
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
                batch.save(model(_session_pk(session_id), f"{TEXT_PREFIX}{message_id}#{n:04d}", text=part))
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
        try:
            item.update(
                actions=[_assign(_a(model, name), value) for name, value in values.items()],
                condition=model.PK.exists(),
            )
        except UpdateError as exc:
            if _lost(exc):
                raise NotFound(f"message {session_id}/{message_id}") from exc
            raise
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

    # activity heartbeat --------------------------------------------------------------------

    def _update_activity(self, actions: list[Action]) -> None:
        self._m.activity(SYSTEM, ACTIVITY).update(actions=actions)

    def _update_activity_map(self, action: Action) -> None:
        try:
            self._update_activity([action])
        except UpdateError as exc:
            if exc.cause_response_code != "ValidationException":
                raise
            # The map does not exist yet, so its path is invalid: create both maps empty where absent
            # (if_not_exists leaves a concurrent writer's map alone), then apply the change.
            maps = [_a(self._m.activity, name) for name in ("running_turns", "voice_rooms")]
            self._update_activity([attribute.set(attribute | {}) for attribute in maps])
            self._update_activity([action])

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
        path = _a(self._m.activity, "running_turns")[_map_key(codec.check_key(session_id, "session id"))]
        self._update_activity_map(path.remove() if turn_id is None else path.set(turn_id))

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
        try:
            model(AUTH_PREFIX + client, THROTTLE).update(
                actions=[_a(model, "locked_until").set(codec.check_time(locked_until, "locked_until"))],
                condition=model.PK.exists(),
            )
        except UpdateError as exc:
            if _lost(exc):
                raise NotFound(f"throttle {client}") from exc
            raise

    def clear_throttle(self, client: str) -> None:
        self._m.throttle(AUTH_PREFIX + client, THROTTLE).delete()

    # idempotency keys ----------------------------------------------------------------------

    def claim_request(self, request: AcceptedRequest, *, at: float) -> AcceptedRequest | None:
        request = codec.validated(request)
        codec.check_key(request.key, "key")
        at = codec.check_time(at, "at")
        model = self._m.request
        item = model(
            _session_pk(request.session_id),
            REQUEST_PREFIX + request.key,
            ttl=_ttl(request.expires_at),
            **_attributes(request),
        )
        for _ in range(5):
            try:
                item.save(condition=model.PK.does_not_exist() | (_a(model, "expires_at") < at))
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

    def forget_request(self, session_id: str, key: str) -> None:
        self._m.request(_session_pk(session_id), REQUEST_PREFIX + key).delete()

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
        try:
            item.update(actions=[_a(model, "delivered").set(delivered)], condition=model.PK.exists())
        except UpdateError as exc:
            if _lost(exc):
                raise NotFound(f"approval {session_id}/{approval_id}") from exc
            raise
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
