"""The chat page in a real browser: key prompt, streamed replies, history across reloads, readable errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.server.live import free_port, running_server
from tests.webapp.browsing import ask, wait_for_replies
from tests.webapp.conftest import MODELS

pytestmark = pytest.mark.browser

# Counts how many times the newest bot bubble's text changed: more than once means it streamed in.
_COUNT_UPDATES = """() => {
  window.__updates = 0;
  new MutationObserver(() => {
    const texts = document.querySelectorAll('.msg-assistant .msg-text');
    if (texts.length && texts[texts.length - 1].textContent) window.__updates++;
  }).observe(document.getElementById('thread'), {subtree: true, childList: true, characterData: true});
}"""


def test_asks_for_a_key_then_streams_a_reply_kept_across_reloads(make_context, webapp_key, screenshot) -> None:
    page = make_context(with_key=False).new_page()
    page.goto("/")
    dialog = page.get_by_role("dialog", name="API key")
    expect(dialog).to_be_visible()
    page.get_by_role("textbox", name="Key").fill(webapp_key)
    page.get_by_role("textbox", name="Key").press("Enter")
    expect(page.locator("#model option")).to_have_count(len(MODELS))

    page.evaluate(_COUNT_UPDATES)
    page.locator("#input").type("where is my parcel")
    page.locator("#input").press("Shift+Enter")
    page.locator("#input").type("it was due yesterday")
    expect(page.locator("#input")).to_have_value("where is my parcel\nit was due yesterday")
    page.locator("#input").press("Enter")
    expect(page.locator("#typing")).to_be_visible()
    wait_for_replies(page)
    expect(page.locator("#typing")).to_be_hidden()
    assert page.evaluate("window.__updates") > 1, "the reply arrived in one piece, not streamed"
    expect(page.locator("#announcer")).to_contain_text("replied")
    screenshot(page, "chat")

    page.reload()
    expect(page.locator("#history-list .open[aria-current] .title")).to_have_text("where is my parcel")
    expect(page.locator("#thread .msg-user")).to_contain_text("it was due yesterday")
    expect(page.locator("#thread .msg-assistant")).to_have_count(1)


def test_history_lists_reopens_and_deletes_conversations(page) -> None:
    ask(page, "how do I reset my password")
    wait_for_replies(page)
    page.get_by_role("button", name="+ New conversation").click()
    expect(page.locator("#thread .msg")).to_have_count(0)

    item = page.locator("#history-list li", has_text="how do I reset my password").first
    item.locator(".open").click()
    expect(page.locator("#thread .msg-user .msg-text")).to_have_text("how do I reset my password")
    item.get_by_role("button", name="Delete conversation").click()
    expect(page.locator("#thread .msg")).to_have_count(0)
    expect(page.locator("#history-list li", has_text="how do I reset my password")).to_have_count(0)


def test_a_server_error_is_shown_and_the_unsent_text_kept(page) -> None:
    page.evaluate("""() => {
      const select = document.getElementById('model');
      select.add(new Option('no-such-model', 'no-such-model'));
      select.value = 'no-such-model';
    }""")
    ask(page, "can I get a refund")
    expect(page.get_by_role("alert")).to_contain_text("no-such-model")
    expect(page.locator("#input")).to_have_value("can I get a refund")
    expect(page.locator("#thread .msg")).to_have_count(0)


def test_a_no_auth_server_asks_for_no_key(browser, webapp_settings, tmp_path) -> None:
    settings = webapp_settings.model_copy(update={"no_auth": True, "port": free_port(), "data_dir": tmp_path})
    with running_server(settings) as api_url:
        context = browser.new_context(base_url=api_url.removesuffix("/v1"))
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#model option")).to_have_count(len(MODELS))
        expect(page.get_by_role("dialog", name="API key")).to_have_count(0)
        context.close()
