"""The bot's own hand-off in the browser: a question its knowledge does not cover ends in the hand-over
message, and the agent view shows the conversation with the reason and the draft the bot did not send."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from caretune.runs.info import DEFAULT_HANDOFF_MESSAGE
from tests.webapp.browsing import ask, wait_for_replies
from tests.webapp.conftest import BOT

pytestmark = pytest.mark.browser

OFF_TOPIC = "Which pizza toppings go best with a horror movie night?"


def test_a_low_confidence_question_is_handed_to_an_agent_with_its_draft(context, page) -> None:
    page.locator("#model").select_option(BOT)
    ask(page, "do gift cards expire?")
    wait_for_replies(page)
    expect(page.locator(".msg-assistant .msg-text").last).not_to_have_text(DEFAULT_HANDOFF_MESSAGE)
    expect(page.locator("#handoff-banner")).to_be_hidden()

    ask(page, OFF_TOPIC)
    wait_for_replies(page, 2)
    expect(page.locator(".msg-assistant .msg-text").last).to_have_text(DEFAULT_HANDOFF_MESSAGE)
    expect(page.locator(".msg-assistant").last.locator(".msg-sources")).to_have_count(0)
    expect(page.locator("#handoff-banner")).to_be_visible()

    agent = context.new_page()
    agent.goto("/agent.html")
    queued = agent.locator("#queue button", has_text="do gift cards expire?")  # titled by its first question
    expect(queued).to_have_count(1)
    queued.click()
    expect(agent.locator("#handoff-reason")).to_have_text(
        "The bot was not confident it could answer from the company's knowledge."
    )
    draft = agent.locator("#handoff-draft")
    expect(draft).not_to_be_empty()
    assert draft.text_content() != DEFAULT_HANDOFF_MESSAGE
    agent.get_by_role("button", name="Start from the draft").click()
    # A textarea's value has its line breaks normalised to LF (HTML), and a random model's draft may hold a CR.
    expected = (draft.text_content() or "").replace("\r\n", "\n").replace("\r", "\n")
    expect(agent.locator("#reply")).to_have_value(expected)
    expect(agent.locator("#reply")).to_be_focused()
