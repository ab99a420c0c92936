"""Knowledge bases for real: documents cut at their headings, a SQLite + FAISS base on disk, hybrid search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from caretune.errors import InputError
from caretune.knowledge import KnowledgeBase, embed_query, grounded_system, nearness_to, search, search_query
from caretune.knowledge.documents import MAX_WORDS, read_document
from caretune.knowledge.store import VECTORS_FILE
from tests.knowledge.helpers import POLICIES

def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    _write(folder / "policies.md", POLICIES)
    _write(folder / "faq.csv", "question,answer\nDo you ship to Canada?,Yes: 7 to 14 business days for $24.95.\n")
    _write(folder / "shipping.html", "<html><head><title>Shipping</title><script>x()</script></head><body>"
           "<h1>Shipping</h1><p>Standard delivery takes 3 to 5 business days.</p></body></html>")
    conversation = {"messages": [{"role": "user", "content": "my parcel is late"},
                                 {"role": "assistant", "content": "Sorry! Track it at acme.example/track."}]}
    _write(folder / "past.jsonl", json.dumps(conversation) + "\n")
    return folder


def test_documents_are_cut_where_their_authors_cut_them(docs: Path, tmp_path: Path) -> None:
    chunks = read_document(docs / "policies.md").chunks
    assert [c.title for c in chunks] == ["Returns", "Opening hours", "Gift cards"]
    assert chunks[1].text.startswith("Our stores are open 9am")
    [faq] = read_document(docs / "faq.csv").chunks
    assert (faq.kind, faq.title) == ("faq", "Do you ship to Canada?")
    [html] = read_document(docs / "shipping.html").chunks
    assert html.title == "Shipping" and "x()" not in html.text
    [past] = read_document(docs / "past.jsonl").chunks
    assert past.kind == "conversation" and past.title == "my parcel is late" and past.searched_text == past.title
    long = _write(tmp_path / "long.txt", "\n\n".join(" ".join(["word"] * 50) for _ in range(5)))
    assert all(len(c.text.split()) <= MAX_WORDS for c in read_document(long).chunks)
    with pytest.raises(InputError, match="question"):
        read_document(_write(tmp_path / "bad.csv", "q1,a1\nx,y\n"))
    with pytest.raises(InputError, match="not a knowledge file"):
        read_document(_write(tmp_path / "x.pdf", "%PDF"))


def test_adding_is_by_content_hash_and_survives_reopening(docs: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb", create=True)
    first = kb.add([docs])
    assert len(first.added) == 4 and first.chunks == 6 and len(kb) == 6
    assert kb.add([docs]).unchanged == first.added  # nothing changed: nothing re-indexed
    _write(docs / "policies.md", POLICIES.replace("30 days", "45 days"))
    again = kb.add([docs / "policies.md"])
    assert again.replaced == [str((docs / "policies.md").resolve())] and len(kb) == 6
    assert "45 days" in search(kb, "how long do I have to return something", 1)[0].text
    assert kb.remove(str((docs / "faq.csv").resolve())) and not kb.remove("no-such-doc")
    assert len(kb) == 5 and len(kb.documents()) == 3
    (tmp_path / "kb" / VECTORS_FILE).unlink()  # the FAISS file is derived: it is rebuilt from SQLite
    assert search(KnowledgeBase(tmp_path / "kb"), "how long do I have to return something", 1)[0].title == "Returns"
    with pytest.raises(InputError, match="not a knowledge base"):
        KnowledgeBase(tmp_path / "nothing")


def test_hybrid_search_finds_paraphrases_and_exact_words(docs: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb", create=True)
    kb.add([docs])
    assert search(kb, "when can I visit the shop on a weekend", 1)[0].title == "Opening hours"  # a paraphrase
    assert search(kb, "giftcard balance", 1, mode="lexical")[0].title == "Gift cards"  # exact words
    top = search(kb, "where is my package, it has not come", 2, mode="dense")
    assert top[0].kind == "conversation" and top[0].similarity > top[1].similarity
    origin = top[0].origin
    assert all(p.origin != origin for p in search(kb, "where is my package", 6, exclude_origins=frozenset({origin})))
    # nearness to the knowledge passes over the excluded conversation too: the next chunk is a policy, further off
    vector = embed_query("my parcel is late")
    assert nearness_to(kb, vector, 1) > 0.99 > nearness_to(kb, vector, 1, exclude_origins=frozenset({origin}))


def test_the_same_answer_told_many_times_fills_one_place(tmp_path: Path) -> None:
    conversations = [
        {"messages": [{"role": "user", "content": f"where is my parcel {i}"},
                      {"role": "assistant", "content": f"Sorry! Track your parcel at acme.example/track, {greeting}."}]}
        for i, greeting in enumerate(["Sam", "Jo", "Ali", "Kim"])
    ]
    _write(tmp_path / "past.jsonl", "".join(json.dumps(c) + "\n" for c in conversations))
    _write(tmp_path / "policies.md", POLICIES)
    kb = KnowledgeBase(tmp_path / "kb", create=True)
    kb.add([tmp_path / "past.jsonl", tmp_path / "policies.md"])
    passages = search(kb, "where is my parcel", 3)
    assert sum("acme.example/track" in p.text for p in passages) == 1 and len(passages) == 3


def test_another_process_adding_is_seen_at_the_next_search(docs: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb", create=True)
    kb.add([docs / "policies.md"])
    assert search(kb, "ship to Canada", 1)[0].title != "Do you ship to Canada?"
    subprocess.run(
        [sys.executable, "-m", "caretune", "knowledge", "add", str(tmp_path / "kb"), str(docs / "faq.csv")],
        check=True, capture_output=True, timeout=120,
    )
    assert search(kb, "ship to Canada", 1)[0].title == "Do you ship to Canada?"


def test_the_prompt_layout_and_the_query_of_a_conversation(docs: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb", create=True)
    kb.add([docs / "policies.md"])
    passages = search(kb, "gift card expiry", 1)
    system = grounded_system("You are Acme's agent.", passages)
    assert system.startswith("You are Acme's agent.\n\n") and "- Gift cards: Gift cards never expire." in system
    assert grounded_system("You are Acme's agent.", []) == "You are Acme's agent."
    chat = [{"role": "user", "content": "do you ship abroad"}, {"role": "assistant", "content": "Yes."},
            {"role": "user", "content": "and Canada?"}]
    assert search_query(chat) == "do you ship abroad and Canada?"  # a short follow-up keeps its context
    assert search_query(chat[:1]) == "do you ship abroad"


@pytest.mark.parametrize(
    ("last", "query"),
    [
        ("and Canada?", "where is my parcel and Canada?"),
        ("order 12345", "where is my parcel order 12345"),  # answers the agent: the topic goes on
        ("cool, and Canada?", "where is my parcel cool, and Canada?"),
        ("awesome", "awesome"),  # thanks close the topic: searched alone, they find how agents close
        ("ok cool thx", "ok cool thx"),
        ("perfect, thank you", "perfect, thank you"),
        ("Thanks!", "Thanks!"),
    ],
)
def test_a_short_message_is_searched_with_the_one_before_unless_it_is_thanks(last: str, query: str) -> None:
    chat = [{"role": "user", "content": "where is my parcel"}, {"role": "assistant", "content": "It ships today."},
            {"role": "user", "content": last}]
    assert search_query(chat) == query
