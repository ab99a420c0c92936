"""Threads rebuilt from reply links: order, trees, weights, merged turns, absent parents."""

from __future__ import annotations

import random
from pathlib import Path

from prepare_helpers import conversation, examples, run_prepare, tweet


def test_rows_out_of_order_and_float_parent_ids_make_one_conversation(tmp_path: Path) -> None:
    rows = [
        tweet(10, "501", "@Acme my parcel is late"),
        tweet(11, "Acme", "@501 Sorry! Which order?", parent="10.0"),
        tweet(12, "501", "@Acme the blue one", parent=11),
        tweet(13, "Acme", "@501 It ships today.", parent="12.0"),
    ]
    random.Random(3).shuffle(rows)
    _, out = run_prepare(tmp_path, rows)
    [example] = examples(out)
    assert conversation(example) == [
        ("user", "my parcel is late"),
        ("assistant", "Sorry! Which order?"),
        ("user", "the blue one"),
        ("assistant", "It ships today."),
    ]
    assert example["messages"][0] == {"role": "system", "content": "You are a customer support agent for Acme."}
    assert example["metadata"]["brand"] == "Acme"
    assert example["metadata"]["thread_id"] == "10"


def test_tree_thread_gives_a_conversation_per_leaf_and_trains_shared_turns_once(tmp_path: Path) -> None:
    rows = [
        tweet(1, "501", "@Acme help", replies="2"),
        tweet(2, "Acme", "@501 What happened?", parent=1, replies="3,4"),
        tweet(3, "501", "@Acme it broke", parent=2),
        tweet(4, "777", "@Acme @501 mine too", parent=2),
        tweet(5, "Acme", "@501 Send it back.", parent=3),
        tweet(6, "Acme", "@777 Try a restart.", parent=4),
    ]
    report, out = run_prepare(tmp_path, rows)
    by_leaf = {e["metadata"]["conversation_id"]: e["messages"] for e in examples(out)}
    assert set(by_leaf) == {"5", "6"}
    shared_weights = {leaf: messages[2]["weight"] for leaf, messages in by_leaf.items()}
    assert shared_weights == {"5": 1, "6": 0}
    assert by_leaf["5"][2]["content"] == by_leaf["6"][2]["content"] == "What happened?"
    assert by_leaf["5"][-1] == {"role": "assistant", "content": "Send it back.", "weight": 1}
    assert by_leaf["6"][-1] == {"role": "assistant", "content": "Try a restart.", "weight": 1}
    assert report.conversations == 2 and report.threads == 1


def test_customer_tweet_with_two_agent_replies(tmp_path: Path) -> None:
    rows = [
        tweet(1, "501", "@Acme hello", replies="2,3"),
        tweet(2, "Acme", "@501 Hi there!", parent=1),
        tweet(3, "Acme", "@501 Hello!", parent=1),
    ]
    _, out = run_prepare(tmp_path, rows)
    answers = sorted(conversation(e)[-1][1] for e in examples(out))
    assert answers == ["Hello!", "Hi there!"]


def test_split_answers_and_double_tweets_merge_into_one_turn(tmp_path: Path) -> None:
    rows = [
        tweet(1, "501", "@Acme my password reset"),
        tweet(2, "501", "@Acme never arrives", parent=1),
        tweet(3, "Acme", "@501 Go to Settings, then Account. 1/2 ^JK", parent=2),
        tweet(4, "Acme", "@501 (2/2) Check your spam folder too. ^JK https://t.co/x", parent=3),
    ]
    _, out = run_prepare(tmp_path, rows)
    [example] = examples(out)
    assert conversation(example) == [
        ("user", "my password reset never arrives"),
        ("assistant", "Go to Settings, then Account. Check your spam folder too. <url>"),
    ]


def test_reply_to_absent_tweet_starts_a_thread_and_agent_first_turns_are_dropped(tmp_path: Path) -> None:
    rows = [
        tweet(20, "Acme", "@501 Any news?", parent=999),
        tweet(21, "501", "@Acme yes, it came", parent=20),
        tweet(22, "Acme", "@501 Great!", parent=21),
        tweet(30, "601", "@Acme nobody answers me"),
    ]
    report, out = run_prepare(tmp_path, rows)
    [example] = examples(out)
    assert conversation(example) == [("user", "yes, it came"), ("assistant", "Great!")]
    assert report.notes["replies to tweets absent from the input (treated as thread starts)"] == 1
    assert report.dropped_turns["agent turns before the customer's first message"] == 1
    assert report.dropped["conversations with no agent reply"] == 1


def test_long_conversations_are_cut_into_windows_starting_with_the_customer(tmp_path: Path) -> None:
    rows = [tweet(1, "501", "@Acme q0")]
    for i in range(2, 11):
        author, text = ("Acme", f"@501 a{i}") if i % 2 == 0 else ("501", f"@Acme q{i}")
        rows.append(tweet(i, author, text, parent=i - 1))
    report, out = run_prepare(tmp_path, rows, max_turns=5)
    windows = sorted(examples(out), key=lambda e: e["metadata"]["window"])
    assert [len(conversation(e)) for e in windows] == [4, 4, 2]
    assert all(conversation(e)[0][0] == "user" and conversation(e)[-1][0] == "assistant" for e in windows)
    assert conversation(windows[1])[0] == ("user", "q5")
    assert report.turns.max == 4


def test_input_without_any_answer_writes_empty_files_and_says_so(tmp_path: Path) -> None:
    report, out = run_prepare(tmp_path, [tweet(1, "501", "@Acme hello?"), tweet(2, "502", "@Acme anyone?")])
    assert report.examples["total"] == 0
    assert report.dropped["conversations with no agent reply"] == 2
    assert all((out / f"{split}.jsonl").read_text(encoding="utf-8") == "" for split in ("train", "valid", "test"))
