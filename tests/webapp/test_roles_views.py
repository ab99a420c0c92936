"""The pages as each role sees them, in a real browser: an app key's visitors (one key, each their own
anonymous session) see only their own chats and no admin or agent view; an agent sees the agent queue and
nothing of the admin's; an admin sees keys, usage and the audit log, and creates and revokes keys."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.webapp.browsing import ask, open_chat, wait_for_replies
from tests.webapp.conftest import GEMMA, LLAMA, MODELS

pytestmark = pytest.mark.browser


def test_visitors_of_one_app_key_see_only_their_own_chats(make_context, app_key: str) -> None:
    first = make_context(key=app_key)
    page = open_chat(first)
    expect(page.get_by_role("link", name="Agent view")).to_be_hidden()
    expect(page.get_by_role("link", name="Admin")).to_be_hidden()
    ask(page, "where is my order 7781")
    wait_for_replies(page)
    expect(page.locator("#history-list .title")).to_have_text(["where is my order 7781"])
    conversation_id = page.evaluate("location.hash.slice(1)")
    [session] = [c for c in first.cookies() if c["name"] == "caretune_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "caretune_session" not in page.evaluate("document.cookie")  # out of the page's scripts' reach

    other = make_context(key=app_key).new_page()
    other.goto(f"/#{conversation_id}")  # another visitor, who got hold of the link
    expect(other.locator("#thread")).to_contain_text("New conversation")
    expect(other.locator("#history-list")).to_contain_text("No conversations yet.")
    expect(other.locator("#thread")).not_to_contain_text("7781")


def test_the_page_never_posts_the_bots_words(make_context, app_key: str) -> None:
    """The server keeps the question and the bot's reply; the page (an app key, in every visitor's browser)
    only reads them back, and judges the reply by the id the server gave it."""
    page = open_chat(make_context(key=app_key))
    posted: list[str] = []  # turns the page appends itself
    page.on("request", lambda r: r.method == "POST" and "/messages" in r.url and posted.append(r.post_data))
    ask(page, "can I return my boots")
    wait_for_replies(page)
    reply = page.locator(".msg-assistant").last
    reply.get_by_role("button", name="Good answer").click()
    expect(reply.locator(".feedback-status")).to_have_text("Feedback saved")
    assert posted == []
    page.reload()
    expect(page.locator("#thread .msg-user .msg-text")).to_have_text(["can I return my boots"])
    expect(page.locator("#thread .msg-assistant .msg-text")).to_have_text([reply.locator(".msg-text").text_content()])
    expect(page.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")


def test_an_app_key_on_the_agent_and_admin_pages(make_context, app_key: str) -> None:
    context = make_context(key=app_key)
    agent = context.new_page()
    agent.goto("/agent.html")
    expect(agent.locator("#error")).to_contain_text("cannot answer customers in the agent view")
    expect(agent.locator("#error")).to_contain_text("'conversations.agent'")
    expect(agent.locator("#queue")).to_be_hidden()

    admin = context.new_page()
    admin.goto("/admin.html")
    expect(admin.locator("#models li")).to_have_count(len(MODELS) + 4)  # its models and the GPT-3 aliases
    for hidden in ("#figures", "#jobs", "#files", "#knowledge", "#keys", "#usage", "#audit", "#export"):
        expect(admin.locator(hidden)).to_be_hidden()


def test_an_agent_sees_the_queue_and_nothing_of_the_admins(make_context, agent_key: str, app_key: str,
                                                          site: str) -> None:
    customer = {"Authorization": f"Bearer {app_key}", "X-Caretune-User": "frank"}
    with httpx.Client(base_url=f"{site}/v1", headers=customer) as http:
        waiting = http.post("/conversations", json={"model": LLAMA}).json()["id"]
        http.post(f"/conversations/{waiting}/messages", json={"role": "user", "content": "frank wants a person"})
        http.post(f"/conversations/{waiting}/handoff")
        quiet = http.post("/conversations", json={"model": LLAMA}).json()["id"]
        http.post(f"/conversations/{quiet}/messages", json={"role": "user", "content": "frank talks to the bot"})
    context = make_context(key=agent_key)

    agent = context.new_page()
    agent.goto("/agent.html")
    expect(agent.locator("#queue")).to_contain_text("frank wants a person")
    expect(agent.locator("#queue")).not_to_contain_text("frank talks to the bot")
    expect(agent.get_by_role("link", name="Admin")).to_be_hidden()
    expect(agent.get_by_role("link", name="Chat")).to_be_hidden()
    agent.get_by_role("button", name="frank wants a person").click()
    agent.locator("#reply").fill("Hello Frank, Sam here.")
    agent.get_by_role("button", name="Send answer").click()
    expect(agent.locator("#thread")).to_contain_text("Hello Frank, Sam here.")

    chat = context.new_page()
    chat.goto("/")
    expect(chat.locator("#error")).to_contain_text("cannot chat with the bot")
    expect(chat.locator("#composer")).to_be_hidden()

    admin = context.new_page()
    admin.goto("/admin.html")
    expect(admin.locator("#knowledge tbody tr")).to_have_count(1)
    expect(admin.locator("#models li").first).to_be_visible()
    for hidden in ("#jobs", "#files", "#keys", "#usage", "#audit", "#export", "#knowledge-upload"):
        expect(admin.locator(hidden)).to_be_hidden()


def test_an_admin_manages_keys_and_reads_usage_and_the_audit_log(context, app_key: str, site: str,
                                                                 screenshot) -> None:
    headers = {"Authorization": f"Bearer {app_key}"}
    body = {"model": GEMMA, "prompt": "hi", "max_tokens": 2}
    assert httpx.post(f"{site}/v1/completions", headers=headers, json=body, timeout=120).status_code == 200
    page = context.new_page()
    page.goto("/admin.html")
    expect(page.locator("#keys tbody")).to_contain_text("tests-app")
    expect(page.locator("#usage tbody tr", has_text="tests-app").filter(has_text=GEMMA)).to_have_count(1)

    page.locator("#key-name").fill("kiosk")
    page.locator("#key-role").select_option("app")
    page.locator("#key-models").fill(GEMMA)
    page.locator("#key-rate").fill("30/min")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#key-secret code")
    expect(secret).to_have_text(re.compile(r"^ct-\S{40,}$"))
    kiosk_key = secret.inner_text()
    row = page.locator("#keys tbody tr", has_text="kiosk")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("30/min")
    kiosk = httpx.get(f"{site}/v1/models", headers={"Authorization": f"Bearer {kiosk_key}"})
    assert [m["id"] for m in kiosk.json()["data"]] == [GEMMA]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke key kiosk").click()
    expect(row).to_contain_text("revoked")
    assert httpx.get(f"{site}/v1/models", headers={"Authorization": f"Bearer {kiosk_key}"}).status_code == 401
    expect(page.locator("#audit tbody tr").nth(0)).to_contain_text("key.revoked")
    expect(page.locator("#audit tbody tr").nth(1)).to_contain_text("key.created")
    screenshot(page, "admin-keys", full_page=True)
