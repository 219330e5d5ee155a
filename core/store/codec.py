"""What both store back-ends share: validation, truncation, sort keys, cursors, record <-> plain data."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from typing import Any, Literal, TypeVar, get_args, get_origin

from core.store.base import InvalidCursor
from core.store.models import (
    MAX_TEXT_BYTES,
    MAX_TOOL_FIELD_BYTES,
    TRUNCATION_MARK,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    Page,
    PushSubscriptionRecord,
    ScheduleRecord,
    ScheduleRunRecord,
    SearchHit,
    SessionRecord,
    ThrottleRecord,
    ToolCall,
    ToolPolicyRecord,
    VapidKeys,
    truncate_text,
)

R = TypeVar("R")

MAX_PAGE_SIZE = 1000

# All tool calls of one message share this budget (the text has MAX_TEXT_BYTES of its own), so a
# message item stays far below DynamoDB's 400 KB however many tools a turn used.
TOOL_CALLS_BUDGET_BYTES = 200_000
# Attribute names and the short fields of one stored tool call, counted against the budget.
_TOOL_CALL_OVERHEAD_BYTES = 128
_MARK_BYTES = len(TRUNCATION_MARK.encode("utf-8"))

SESSIONS_SCOPE = "sessions"

# Fields that end up in item keys: they must be non-empty strings.
_KEY_FIELDS: dict[type, tuple[str, ...]] = {
    SessionRecord: ("id",),
    MessageRecord: ("session_id", "id"),
    ArtifactRecord: ("path", "session_id"),
    PushSubscriptionRecord: ("id", "endpoint", "p256dh", "auth"),
    VapidKeys: ("public_key", "private_key"),
    ScheduleRecord: ("id",),
    ScheduleRunRecord: ("schedule_id", "id"),
    ApprovalRecord: ("session_id", "id"),
}

# Cursors carry a digest so an edited or corrupted cursor is refused. The key is not a secret: a forged
# cursor could only name a position inside the listing it was scoped to, which any client may read anyway.
_CURSOR_KEY = b"blu-store-cursor-v1"
_DIGEST_BYTES = 8


# validation and conversion ---------------------------------------------------------------------


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """A record class's resolved field types (its annotations are strings: postponed evaluation)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _coerce(hint: Any, value: Any, what: str) -> Any:
    """`value` checked against a field's declared type (ints widen to floats, mappings become ToolCalls)."""
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in get_args(hint):
            return None
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _coerce(inner, value, what)
    if origin is Literal:
        if value not in get_args(hint):
            raise ValueError(f"{what} must be one of {get_args(hint)}, not {value!r}")
        return value
    if origin is tuple:  # tuple[ToolCall, ...], the only sequence field
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            raise TypeError(f"{what} must be a sequence of tool calls")
        return tuple(validated(v) if isinstance(v, ToolCall) else from_plain(ToolCall, v) for v in value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise TypeError(f"{what} must be a mapping")
        key_type, value_type = get_args(hint)
        return {_coerce(key_type, k, what): _coerce(value_type, v, what) for k, v in value.items()}
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):  # DynamoDB has no NaN or infinity
            raise ValueError(f"{what} must be a finite number")
        return float(value)
    if hint in (str, bool, int) and isinstance(value, hint) and (hint is bool or not isinstance(value, bool)):
        return value
    raise TypeError(f"{what} must be {getattr(hint, '__name__', hint)}, not {type(value).__name__}")


FieldKind = Literal["string", "number", "bool", "tool_calls", "map"]


def field_kinds(cls: type) -> dict[str, FieldKind]:
    """How each field of a record class is stored, derived from its type, so a back-end's schema
    follows the dataclass and a new field needs no change here."""
    kinds: dict[str, FieldKind] = {}
    for name, hint in _hints(cls).items():
        if get_origin(hint) in (typing.Union, types.UnionType):
            (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
        origin = get_origin(hint)
        if hint is str or origin is Literal:
            kinds[name] = "string"
        elif hint is bool:
            kinds[name] = "bool"
        elif hint in (int, float):
            kinds[name] = "number"
        elif origin is tuple:
            kinds[name] = "tool_calls"
        elif origin is dict:
            kinds[name] = "map"
        else:
            raise TypeError(f"{cls.__name__}.{name}: no storage for {hint!r}")
    return kinds


def validated(record: R) -> R:
    """The record with every field checked against its declared type and its key fields non-empty;
    raises TypeError or ValueError."""
    cls = type(record)
    hints = _hints(cls)
    values = {
        f.name: _coerce(hints[f.name], getattr(record, f.name), f"{cls.__name__}.{f.name}")
        for f in fields(cls)  # type: ignore[arg-type]
    }
    for name in _KEY_FIELDS.get(cls, ()):
        check_key(values[name], f"{cls.__name__}.{name}")
    if cls is ToolPolicyRecord:
        for tool, mode in values["modes"].items():
            check_tool_mode(tool, mode)
    return cls(**values)


def from_plain(cls: type[R], data: Mapping[str, Any]) -> R:
    """A record from stored plain data; absent or null fields take their defaults, unknown keys are ignored."""
    hints = _hints(cls)
    values = {
        f.name: _coerce(hints[f.name], data[f.name], f"{cls.__name__}.{f.name}")
        for f in fields(cls)  # type: ignore[arg-type]
        if data.get(f.name) is not None
    }
    return cls(**values)


def changes_for(cls: type, changes: Mapping[str, object], *, fixed: frozenset[str]) -> dict[str, Any]:
    """Validated field changes for an update; the key fields in `fixed` cannot change."""
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in hints or name in fixed:
            raise ValueError(f"{cls.__name__} has no field {name!r} that can change")
        out[name] = _coerce(hints[name], value, f"{cls.__name__}.{name}")
    return out


def session_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    return changes_for(SessionRecord, changes, fixed=frozenset({"id"}))


def schedule_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    return changes_for(ScheduleRecord, changes, fixed=frozenset({"id", "created_at"}))


def run_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    values = changes_for(ScheduleRunRecord, changes, fixed=frozenset({"schedule_id", "id", "trigger", "due_at"}))
    if values.get("error") is not None:
        values["error"] = truncate_text(values["error"], MAX_TOOL_FIELD_BYTES)[0]
    return values


def fit_run(run: ScheduleRunRecord) -> ScheduleRunRecord:
    record = validated(run)
    if record.error is not None:
        record = replace(record, error=truncate_text(record.error, MAX_TOOL_FIELD_BYTES)[0])
    return record


def runs_scope(schedule_id: str) -> str:
    return f"runs:{schedule_id}"


def usage_deltas(
    *, messages: int, input_tokens: int, output_tokens: int, cost_usd: float, stopped_replies: int
) -> dict[str, Any]:
    """Non-zero counter increments keyed by SessionRecord field."""
    deltas = changes_for(
        SessionRecord,
        {
            "message_count": messages,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost_usd,
            "stopped_replies": stopped_replies,
        },
        fixed=frozenset(),
    )
    return {name: delta for name, delta in deltas.items() if delta}


def with_usage(session: SessionRecord, deltas: Mapping[str, Any], at: float | None = None) -> SessionRecord:
    """`session` with usage_deltas added to its counters (and updated_at set to `at` when given)."""
    values: dict[str, Any] = {name: getattr(session, name) + delta for name, delta in deltas.items()}
    if at is not None:
        values["updated_at"] = check_time(at, "at")
    return replace(session, **values)


# The rules of a turn's writes, one place for both back-ends ---------------------------------------


def accepted_changes(session: SessionRecord, turn_id: str | None, name: Callable[[], str]) -> dict[str, Any]:
    """What a person's message changes in its session (besides the counters): an archived or new session
    becomes active; a session with no turn marked is marked running by the message's turn (so a crash before
    it runs is found on start); a session with no name gets `name()` (called only then)."""
    changes: dict[str, Any] = {}
    if session.status in ("archived", "new"):
        changes["status"] = "active"
    if session.running_turn_id is None:
        changes["running_turn_id"] = turn_id
    if not session.name:
        changes["name"] = name()
    return session_changes(changes)


def started_changes(reply: MessageRecord) -> dict[str, Any]:
    """What a turn's start changes in its session: marked running by the turn, and active."""
    if reply.turn_id is None:
        raise ValueError("a reply starts a turn: its turn_id is required")
    return session_changes({"running_turn_id": reply.turn_id, "status": "active"})


_USAGE_FIELDS = frozenset({"message_count", "input_tokens", "output_tokens", "cost_usd", "stopped_replies"})


def ended_changes(
    session: Mapping[str, object], usage: Mapping[str, float], at: float
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """A turn end's session changes, usage deltas and time, validated: the changes may not name a counter or
    updated_at (the usage sets those: one write per field)."""
    changes = session_changes(session)
    clash = sorted(changes.keys() & (_USAGE_FIELDS | {"updated_at"}))
    if clash:
        raise ValueError(f"a turn's end sets {clash} from its usage, not as changes")
    counts: dict[str, Any] = {"messages": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    deltas = usage_deltas(**{**counts, "stopped_replies": 0, **usage})
    return changes, deltas, check_time(at, "at")


def check_key(value: object, what: str) -> str:
    """A non-empty string used as an identifier (map key, path, client)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def check_time(value: object, what: str) -> float:
    """A number of seconds since the epoch."""
    return float(_coerce(float, value, what))


# fitting messages into one item ----------------------------------------------------------------


def _fit_tool_calls(calls: tuple[ToolCall, ...]) -> tuple[tuple[ToolCall, ...], bool]:
    budget = TOOL_CALLS_BUDGET_BYTES
    kept: list[ToolCall] = []
    cut = False
    for call in calls:
        overhead = len(call.id.encode()) + len(call.name.encode()) + _TOOL_CALL_OVERHEAD_BYTES
        if overhead > budget:  # no room even for the call itself: drop it and the rest
            return tuple(kept), True
        budget -= overhead
        fitted: list[str] = []
        for summary in (call.input_summary, call.result_summary):
            limit = max(0, min(MAX_TOOL_FIELD_BYTES, budget - _MARK_BYTES))
            text, was_cut = truncate_text(summary, limit)
            budget -= len(text.encode())
            cut = cut or was_cut
            fitted.append(text)
        kept.append(replace(call, input_summary=fitted[0], result_summary=fitted[1]))
    return tuple(kept), cut


def _fit_fields(values: dict[str, Any]) -> bool:
    """Truncate the long fields present in `values` in place; returns whether anything was cut."""
    cut = False
    if "text" in values:
        values["text"], was_cut = truncate_text(values["text"], MAX_TEXT_BYTES)
        cut = cut or was_cut
    if values.get("error") is not None:
        values["error"], was_cut = truncate_text(values["error"], MAX_TOOL_FIELD_BYTES)
        cut = cut or was_cut
    if "tool_calls" in values:
        values["tool_calls"], was_cut = _fit_tool_calls(values["tool_calls"])
        cut = cut or was_cut
    return cut


# Text too long for the item is kept whole beside it, in parts that each fit an item (4 bytes a character at most).
TEXT_PART_CHARS = 90_000


def text_overflows(text: str) -> bool:
    """Whether `text` is cut in the message item (and so kept whole beside it)."""
    return len(text.encode("utf-8")) > MAX_TEXT_BYTES


def text_parts(text: str) -> list[str]:
    return [text[i : i + TEXT_PART_CHARS] for i in range(0, len(text), TEXT_PART_CHARS)]


def fit_message(message: MessageRecord) -> MessageRecord:
    """A validated message cut to fit one item; `truncated` is set when something was cut."""
    record = validated(message)
    values: dict[str, Any] = {"text": record.text, "error": record.error, "tool_calls": record.tool_calls}
    if _fit_fields(values):
        values["truncated"] = True
    return replace(record, **values)


def message_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    """Validated message changes, cut to fit; `truncated` becomes True when this change cut something
    (and is otherwise left as stored: once cut, a message stays marked)."""
    values = changes_for(MessageRecord, changes, fixed=frozenset({"session_id", "id"}))
    if _fit_fields(values):
        values["truncated"] = True
    return values


# ordering and pagination -----------------------------------------------------------------------


def time_key(at: float) -> str:
    """A timestamp as a fixed-width string that sorts like the number (microseconds, 20 digits)."""
    return f"{max(0, round(at * 1_000_000)):020d}"


def session_recency_key(updated_at: float, session_id: str) -> str:
    """The sort key of the recency listing; the id breaks ties so the order is total and pages never overlap."""
    return f"{time_key(updated_at)}#{session_id}"


def order_artifacts(artifacts: list[ArtifactRecord]) -> list[ArtifactRecord]:
    """Artifact links most recently changed first, in the same total order on every back-end."""
    return sorted(artifacts, key=lambda a: (a.updated_at, a.path, a.session_id), reverse=True)


def order_subscriptions(records: list[PushSubscriptionRecord]) -> list[PushSubscriptionRecord]:
    """Push subscriptions oldest first, in the same total order on every back-end."""
    return sorted(records, key=lambda r: (r.created_at, r.id))


def messages_scope(session_id: str, newest_first: bool) -> str:
    return f"messages:{'desc' if newest_first else 'asc'}:{session_id}"


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    return limit


def _digest(body: bytes) -> bytes:
    return hmac.new(_CURSOR_KEY, body, hashlib.sha256).digest()[:_DIGEST_BYTES]


def encode_cursor(scope: str, after: str) -> str:
    """An opaque, URL-safe cursor: resume `scope` strictly after position `after`."""
    body = json.dumps([scope, after], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(_digest(body) + body).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None, scope: str) -> str | None:
    """The position a cursor names, or None for the first page; raises InvalidCursor on anything this
    module did not issue for the same scope."""
    if cursor is None:
        return None
    try:
        padded = cursor.encode("ascii") + b"=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        digest, body = raw[:_DIGEST_BYTES], raw[_DIGEST_BYTES:]
        if not hmac.compare_digest(digest, _digest(body)):
            raise InvalidCursor("cursor was altered")
        value = json.loads(body.decode("utf-8"))
    except (AttributeError, UnicodeError, binascii.Error, ValueError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(value, list) or len(value) != 2 or value[0] != scope or not isinstance(value[1], str):
        raise InvalidCursor("cursor belongs to another listing")
    return value[1]


def make_page(rows: list[R], limit: int, scope: str, position: Callable[[R], str]) -> Page[R]:
    """A page from up to `limit + 1` fetched rows: the extra row only proves that another page exists
    (so no back-end has to trust a LastEvaluatedKey on an exactly-full page)."""
    if len(rows) > limit:
        return Page(items=rows[:limit], next=encode_cursor(scope, position(rows[limit - 1])))
    return Page(items=rows)


# login throttling ------------------------------------------------------------------------------


def throttle_expired(record: ThrottleRecord, at: float) -> bool:
    """A throttle record that expired before `at` no longer counts (DynamoDB's TTL sweep is lazy)."""
    return record.expires_at < at


def count_login_failure(current: ThrottleRecord | None, client: str, *, at: float, expires_at: float) -> ThrottleRecord:
    if current is None or throttle_expired(current, at):
        return ThrottleRecord(client=client, failures=1, expires_at=float(expires_at))
    return replace(current, failures=current.failures + 1, expires_at=float(expires_at))


def claim_login_attempt(
    current: ThrottleRecord | None, client: str, *, at: float, expires_at: float, lock_for: Callable[[int], float]
) -> ThrottleRecord | None:
    """The record after counting one more attempt, or None while `current` locks the client at `at`."""
    if current is not None and not throttle_expired(current, at) and current.locked_until > at:
        return None
    counted = count_login_failure(current, client, at=at, expires_at=expires_at)
    wait = lock_for(counted.failures)
    return replace(counted, locked_until=at + wait) if wait > 0 else counted


# search ------------------------------------------------------------------------------------------
# What a match is, for both back-ends: every word of the query starts a word of the text, ignoring case
# and accents ("Cafe" finds "café's"); words are runs of letters and digits (as SQLite FTS5's unicode61
# tokenizer sees them).

MAX_SEARCH_TERMS = 8
SNIPPET_BEFORE = 60
SNIPPET_LENGTH = 180
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_terms(query: str) -> list[str]:
    """The query's words, folded, without repeats (at most MAX_SEARCH_TERMS)."""
    terms: list[str] = []
    for word in _WORD.findall(fold(query)):
        if word not in terms:
            terms.append(word)
    return terms[:MAX_SEARCH_TERMS]


def search_matches(text: str, terms: list[str]) -> bool:
    if not terms:
        return False
    words = _WORD.findall(fold(text))
    return all(any(word.startswith(term) for word in words) for term in terms)


def search_snippet(text: str, terms: list[str]) -> str:
    """The part of `text` around the first match (whitespace collapsed), with "…" where it was cut."""
    flat = " ".join(text.split())
    folded = fold(flat)
    first = -1
    if len(folded) == len(flat):  # positions line up (folding changed no length): start at the match
        for match in _WORD.finditer(folded):
            if any(match.group().startswith(term) for term in terms):
                first = match.start()
                break
    start = max(0, first - SNIPPET_BEFORE) if first >= 0 else 0
    if start:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(flat), start + SNIPPET_LENGTH)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def order_hits(hits: list[SearchHit], limit: int) -> list[SearchHit]:
    """Sessions, then artifacts, then messages; newest first within each; at most `limit`."""
    rank = {"session": 0, "artifact": 1, "message": 2}
    return sorted(hits, key=lambda h: (rank[h.kind], -h.at, h.session_id, h.message_id or h.path or ""))[:limit]


TOOL_MODES = ("allow", "ask", "deny")


def check_tool_mode(name: str, mode: str | None) -> None:
    """A tool policy entry: a tool name (MCP tools as `mcp__server__tool`) and allow/ask/deny, or None."""
    check_key(name, "tool name")
    if len(name) > 200:
        raise ValueError("tool name must be at most 200 characters")
    if mode is not None and mode not in TOOL_MODES:
        raise ValueError(f"tool mode must be one of {TOOL_MODES}, not {mode!r}")


def decided_approval(current: ApprovalRecord, decision: ApprovalRecord) -> ApprovalRecord:
    """`current` with the decision's fields (status, who, when, answers, message, always) set: validated."""
    check_decision(decision)
    return validated(
        replace(
            current,
            status=decision.status,
            decided_at=decision.decided_at,
            decided_by=decision.decided_by,
            message=truncate_text(decision.message, MAX_TOOL_FIELD_BYTES)[0],
            answers=dict(decision.answers),
            always=decision.always,
            delivered=decision.delivered,
        )
    )


def check_decision(decision: ApprovalRecord) -> None:
    """Raises ValueError for a decision that decides nothing."""
    if decision.status == "pending":
        raise ValueError("a decision must not be pending")


def fit_approval(approval: ApprovalRecord) -> ApprovalRecord:
    """The record validated, its input cut to the tool field budget."""
    return validated(replace(approval, input_json=truncate_text(approval.input_json, MAX_TOOL_FIELD_BYTES)[0]))
