"""The built-in demo data: reproducible, TWCS-shaped, and teaching every policy it claims to."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from caretune.data.demo import COMPANY, POLICIES, demo_csv_path, demo_questions
from caretune.data.demo.generate import demo_rows, generate
from caretune.data.demo.phrasing import ANSWERS, QUESTIONS
from caretune.data.twcs_writer import TWCS_COLUMNS


@pytest.fixture(scope="module")
def shipped_rows() -> list[dict[str, str]]:
    with demo_csv_path().open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == TWCS_COLUMNS
        return list(reader)


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    a = generate(tmp_path / "a.csv", seed=7, n_conversations=60)
    subprocess.run(
        [sys.executable, "-m", "caretune.data.demo.generate", "--out", tmp_path / "b.csv", "--seed", "7",
         "--conversations", "60"],
        check=True, capture_output=True,
    )
    assert a.read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert demo_rows(seed=8, n_conversations=60) != demo_rows(seed=7, n_conversations=60)


def test_the_shipped_csv_is_a_fresh_generation(tmp_path: Path) -> None:
    assert generate(tmp_path / "demo.csv").read_bytes() == demo_csv_path().read_bytes()
    assert demo_csv_path().stat().st_size < 3_000_000


def test_shape_of_the_support_log(shipped_rows: list[dict[str, str]]) -> None:
    ids = {r["tweet_id"] for r in shipped_rows}
    roots = [r for r in shipped_rows if not r["in_response_to_tweet_id"]]
    assert 1500 <= len(roots) <= 2500
    assert all(r["inbound"] == "True" and r["author_id"].isdigit() for r in roots)
    agents = [r for r in shipped_rows if r["inbound"] == "False"]
    assert {r["author_id"] for r in agents} == {COMPANY.handle}
    assert len(agents) >= 5000  # a 10% test split then holds 500+ agent turns
    children = defaultdict(list)
    for r in shipped_rows:
        if r["in_response_to_tweet_id"]:
            parent = r["in_response_to_tweet_id"].removesuffix(".0")
            assert parent in ids
            children[parent].append(r["tweet_id"])
    for r in shipped_rows:
        assert sorted(filter(None, r["response_tweet_id"].split(","))) == sorted(children[r["tweet_id"]])


def test_it_has_the_quirks_of_a_real_log(shipped_rows: list[dict[str, str]]) -> None:
    agent_text = [r["text"] for r in shipped_rows if r["inbound"] == "False"]
    customer_text = [r["text"] for r in shipped_rows if r["inbound"] == "True"]
    assert sum(t.endswith(" 1/2") for t in agent_text) >= 50
    assert sum(bool(re.search(r" \^[A-Z]{2}$", t)) for t in agent_text) >= 0.9 * len(agent_text)
    assert sum("," in r["response_tweet_id"] for r in shipped_rows) >= 50  # one tweet, two agent answers
    assert sum(bool(re.search(r"[\w.]+@example\.(com|net|org)", t)) for t in customer_text) >= 20
    assert sum(bool(re.search(r"\d{7}", t)) for t in customer_text) >= 100
    follow_ups = [r for r in shipped_rows if r["inbound"] == "True" and r["in_response_to_tweet_id"]]
    assert len(follow_ups) >= 0.4 * (len(customer_text) - len(follow_ups))
    openings = [r["text"] for r in shipped_rows if not r["in_response_to_tweet_id"]]
    assert len(set(openings)) >= 0.7 * len(openings)


def test_every_answer_states_its_policy_facts() -> None:
    assert set(ANSWERS) == set(QUESTIONS) == set(POLICIES)
    for topic, answers in ANSWERS.items():
        for answer in answers:
            missing = [f for f in POLICIES[topic].facts if f.lower() not in answer.lower()]
            assert not missing, (topic, answer, missing)


def test_every_policy_is_taught_often(shipped_rows: list[dict[str, str]]) -> None:
    taught: Counter[str] = Counter()
    for r in shipped_rows:
        if r["inbound"] == "False":
            for topic, policy in POLICIES.items():
                taught[topic] += all(f.lower() in r["text"].lower() for f in policy.facts)
    assert min(taught[t] for t in POLICIES) >= 100, taught


def test_demo_questions_ask_in_new_words_about_known_policies(shipped_rows: list[dict[str, str]]) -> None:
    questions = demo_questions()
    assert len(questions) >= 8
    customer_text = " ".join(r["text"].lower() for r in shipped_rows if r["inbound"] == "True")
    for q in questions:
        assert q.expected_facts == POLICIES[q.topic].facts
        assert q.question.lower() not in customer_text
