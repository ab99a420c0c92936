"""Feedback and hand-off in a real browser: a judged reply reaches the training export; a human answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.webapp.browsing import ask, open_chat, wait_for_replies

pytestmark = pytest.mark.browser

CORRECTION = "Refunds are possible within 30 days of delivery."


def give_feedback(page) -> tuple[str, str]:
    """Correct the first reply (keyboard only), approve the second; returns the conversation id and approved text."""
    ask(page, "can I get a refund for my jacket")
    wait_for_replies(page)
    first = page.locator(".msg-assistant").last
    # Keyboard only: from the message box, back into the reply's feedback controls.
    page.locator("#input").focus()
    page.keyboard.press("Shift+Tab")
    expect(first.get_by_role("button", name="Suggest a better answer")).to_be_focused()
    page.keyboard.press("Enter")
    expect(first.get_by_role("textbox", name="Corrected answer")).to_be_focused()
    page.keyboard.type(CORRECTION)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(first.locator(".feedback-status")).to_have_text("Feedback saved")
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    expect(first.get_by_role("button", name="Bad answer")).to_be_focused()
    page.keyboard.press("Space")
    expect(first.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "true")

    ask(page, "thanks! and how do I reset my password")
    wait_for_replies(page, 2)
    second = page.locator(".msg-assistant").last
    second.get_by_role("button", name="Good answer").click()
    expect(second.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    return page.evaluate("location.hash.slice(1)"), second.locator(".msg-text").text_content()


def test_feedback_lands_in_the_export_route_and_the_cli_file(
    page, site: str, webapp_key: str, webapp_settings, tmp_path: Path
) -> None:
    conversation_id, approved = give_feedback(page)
    headers = {"Authorization": f"Bearer {webapp_key}"}
    exported = httpx.get(f"{site}/v1/feedback/export", headers=headers).text
    examples = [json.loads(line) for line in exported.splitlines()]
    example = next(e for e in examples if e["metadata"]["conversation_id"] == conversation_id)
    assert example["messages"] == [
        {"role": "user", "content": "can I get a refund for my jacket"},
        {"role": "assistant", "content": CORRECTION, "weight": 1},
        {"role": "user", "content": "thanks! and how do I reset my password"},
        {"role": "assistant", "content": approved, "weight": 1},
    ]

    out = tmp_path / "feedback.jsonl"
    cli = Path(sys.executable).with_name("caretune")
    database = ["--database-url", webapp_settings.resolved_database_url()]
    subprocess.run([str(cli), "feedback", "export", "--out", str(out), *database], check=True, timeout=120)
    assert out.read_text(encoding="utf-8") == exported


def test_hand_off_and_answer_as_an_agent(context, screenshot) -> None:
    customer = open_chat(context)
    ask(customer, "the app keeps crashing when I log in")
    wait_for_replies(customer)
    customer.get_by_role("button", name="Talk to a human").click()
    expect(customer.locator("#handoff-banner")).to_contain_text("support agent has been asked")
    ask(customer, "please, I need a person")
    expect(customer.locator("#thread .msg-user")).to_have_count(2)
    expect(customer.locator("#thread .msg-assistant")).to_have_count(1)

    agent = context.new_page()
    agent.goto("/agent.html")
    agent.locator("#queue li", has_text="the app keeps crashing").get_by_role("button").click()
    expect(agent.locator("#thread .msg-user").last).to_contain_text("please, I need a person")
    answer = agent.get_by_role("textbox", name="Your answer to the customer")
    answer.fill("Hi, I'm Sam from support. Which phone do you use?")
    answer.press("Enter")
    expect(agent.locator("#thread .msg-agent")).to_contain_text("Which phone do you use?")
    screenshot(agent, "agent")

    expect(customer.locator("#thread .msg-agent")).to_contain_text("Which phone do you use?")
    expect(customer.locator("#announcer")).to_contain_text("Support agent: Hi, I'm Sam")
    expect(customer.locator("#handoff-banner")).to_have_text("You are talking to a support agent.")

    agent.get_by_role("button", name="Hand back to the bot").click()
    expect(agent.locator("#queue li", has_text="the app keeps crashing")).to_have_count(0)
    expect(customer.locator("#handoff-banner")).to_be_hidden()
