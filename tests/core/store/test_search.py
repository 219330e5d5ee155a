"""Search, one contract on both back-ends: sessions by name, artifacts by path, messages by text."""

from __future__ import annotations

from pathlib import Path

from core.store import Store
from core.store.codec import search_matches, search_snippet, search_terms
from core.store.models import ArtifactRecord, MessageRecord, Sender, SessionRecord

T0 = 1_760_000_000.0


def seed(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", name="Trip to Lisbon", created_at=T0, updated_at=T0 + 10))
    store.create_session(SessionRecord(id="s2", name="Kitchen plans", created_at=T0, updated_at=T0 + 20))
    texts = {
        ("s1", "m1", "user"): "Find a café near the river for Saturday",
        ("s1", "m2", "assistant"): "The **Riverside Café** opens at nine; the ferry leaves at ten.",
        ("s2", "m3", "user"): "Which tiles go with oak cabinets?",
        ("s2", "m4", "assistant"): "Warm terracotta tiles suit oak. " + "Filler words here. " * 40 + "Ferry.",
    }
    for n, ((sid, mid, role), text) in enumerate(texts.items()):
        message_id = f"{int((T0 + n) * 1000):013d}-{mid}"
        store.put_message(
            MessageRecord(session_id=sid, id=message_id, role=role, text=text, created_at=T0 + n)  # type: ignore[arg-type]
        )
    store.put_artifact(ArtifactRecord(path="plans/kitchen-tiles.md", session_id="s2", updated_at=T0 + 5))


def test_search_finds_words_in_messages_ignoring_case_and_accents(store: Store) -> None:
    seed(store)
    results = store.search("CAFE")
    assert results.complete
    assert [(h.kind, h.session_id, h.role) for h in results.hits] == [
        ("message", "s1", "assistant"),  # newest first
        ("message", "s1", "user"),
    ]
    hit = results.hits[0]
    assert hit.session_name == "Trip to Lisbon" and hit.message_id and hit.message_id.endswith("-m2")
    assert "Riverside Café" in hit.snippet


def test_every_word_must_match_and_words_match_by_their_start(store: Store) -> None:
    seed(store)
    assert [h.message_id for h in store.search("ferry nine").hits] == [store.search("nine").hits[0].message_id]
    assert {h.session_id for h in store.search("ferr").hits} == {"s1", "s2"}
    assert store.search("erry").hits == []  # inside a word is not a match
    assert store.search("   ").hits == [] and store.search("?!").hits == []


def test_session_names_and_artifact_paths_are_found_first(store: Store) -> None:
    seed(store)
    hits = store.search("kitchen").hits
    assert [(h.kind, h.session_id) for h in hits] == [("session", "s2"), ("artifact", "s2")]
    assert hits[1].path == "plans/kitchen-tiles.md"
    tiles = store.search("tiles").hits
    assert [h.kind for h in tiles] == ["artifact", "message", "message"]


def test_search_follows_renames_edits_and_deletes(store: Store) -> None:
    seed(store)
    store.update_session("s1", name="Porto weekend")
    assert [h.kind for h in store.search("lisbon").hits] == []
    assert [h.session_id for h in store.search("porto").hits] == ["s1"]
    first = store.search("saturday").hits[0]
    assert first.session_name == "Porto weekend"
    store.update_message("s1", first.message_id or "", text="Find a bakery instead")
    assert store.search("saturday").hits == []
    assert [h.message_id for h in store.search("bakery").hits] == [first.message_id]
    store.delete_session("s2")
    assert store.search("tiles").hits == [] and store.search("kitchen").hits == []


def test_search_limit(store: Store) -> None:
    store.create_session(SessionRecord(id="s9", name="many", created_at=T0, updated_at=T0 + 100))
    for n in range(12):
        store.put_message(
            MessageRecord(
                session_id="s9", id=f"{int((T0 + n) * 1000):013d}-x", role="user", text=f"note {n}", created_at=T0 + n
            )
        )
    hits = store.search("note", limit=5).hits
    assert [h.snippet for h in hits] == [f"note {n}" for n in (11, 10, 9, 8, 7)]


def test_the_local_index_covers_what_was_stored_before_it(tmp_path: Path) -> None:
    import sqlite3

    from core.store.local import LocalStore

    path = tmp_path / "old.sqlite3"
    store = LocalStore(path)
    seed(store)
    store.close()
    db = sqlite3.connect(path)  # as a store from before the index: no index rows, no marker
    db.execute("DELETE FROM search")
    db.execute("DELETE FROM search_rows")
    db.execute("DELETE FROM singletons WHERE name = 'search-index-v1'")
    db.commit()
    db.close()
    reopened = LocalStore(path)
    assert len(reopened.search("cafe").hits) == 2
    reopened.close()


def test_matching_rules() -> None:
    assert search_terms("Café, CAFÉ and tea") == ["cafe", "and", "tea"]
    assert search_matches("Le Café's menu", ["cafe", "men"])
    assert not search_matches("Le Café's menu", ["enu"])
    snippet = search_snippet("word " * 50 + "needle here " + "word " * 50, ["needle"])
    assert snippet.startswith("…") and snippet.endswith("…") and "needle here" in snippet


def test_a_cleared_then_imported_store_finds_exactly_what_it_holds(store: Store) -> None:
    seed(store)
    items = list(store.export_items())
    store.clear_items()
    assert store.search("ferry").hits == []  # nothing stale answers after a full restore's clear
    for item in items:
        store.import_item(item)
    found = [(h.kind, h.session_id) for h in store.search("ferry").hits]
    assert found == [("message", "s2"), ("message", "s1")]


def test_a_message_hit_says_who_sent_it(store: Store) -> None:
    # A prompt may be Blu's note (a late approval answer carried in) or a scheduled run's: the hit says so.
    store.create_session(SessionRecord(id="s3", name="Nightly", created_at=T0, updated_at=T0 + 30))
    senders: dict[str, Sender] = {"m5": "person", "m6": "blu", "m7": "schedule"}
    for n, (mid, sender) in enumerate(senders.items()):
        at = T0 + 10 + n
        message_id = f"{int(at * 1000):013d}-{mid}"
        text = f"Walrus report from {sender}"
        store.put_message(
            MessageRecord(session_id="s3", id=message_id, role="user", text=text, created_at=at, sent_by=sender)
        )
    reply_id = f"{int((T0 + 20) * 1000):013d}-m8"
    store.put_message(MessageRecord(session_id="s3", id=reply_id, role="assistant", text="Walrus.", created_at=T0 + 20))
    hits = store.search("walrus").hits
    assert [(h.role, h.sent_by) for h in hits] == [
        ("assistant", "person"),
        ("user", "schedule"),
        ("user", "blu"),
        ("user", "person"),
    ]
