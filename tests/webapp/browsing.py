"""What the browser tests do over and over: open the chat, ask the bot, wait for its saved reply."""

from __future__ import annotations

from playwright.sync_api import expect

REPLY_TIMEOUT_MS = 60_000


def ask(page, question: str) -> None:
    """Type a question and send it with Enter, as a keyboard user does."""
    page.locator("#input").fill(question)
    page.locator("#input").press("Enter")


def wait_for_replies(scope, count: int = 1) -> None:
    """Wait until ``count`` bot replies in ``scope`` are streamed and saved (their feedback buttons appear)."""
    expect(scope.get_by_role("button", name="Good answer")).to_have_count(count, timeout=REPLY_TIMEOUT_MS)


def open_chat(context) -> object:
    """A new tab on the chat page, once its model pickers are filled (the key was accepted)."""
    page = context.new_page()
    page.goto("/")
    # A locator, not wait_for_function: that evaluates its text in the page, which the page's policy forbids.
    expect(page.locator("#model option").nth(1)).to_be_attached()
    return page
