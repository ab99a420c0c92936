"""The pages in a browser that an attacker writes to: replies and source titles are text, never HTML; the
pages run under a Content-Security-Policy that they keep (no inline script, nothing from elsewhere); CORS is
off unless a site is named."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.server.live import free_port, running_server
from tests.webapp.browsing import ask, wait_for_replies
from tests.webapp.conftest import LLAMA

pytestmark = pytest.mark.browser

PAYLOAD = '<img src=x onerror="window.__injected = 1"><script>window.__injected = 2</script>'
PAGES = ("/", "/agent.html", "/admin.html")
QUESTION = "is this text or markup?"


@pytest.fixture()
def refusals(context) -> list[str]:
    """What the browser said it refused under the page's policy, on any page of the profile."""
    said: list[str] = []
    context.on("console", lambda message: "Content Security Policy" in message.text and said.append(message.text))
    return said


def _api(site: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=f"{site}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _assert_inert(page, scope: str) -> None:
    """The payload shows as its own text and made no element; its handler and script never ran."""
    expect(page.locator(scope)).to_contain_text(PAYLOAD)
    assert page.locator(f"{scope} img, {scope} script").count() == 0
    assert page.evaluate("window.__injected") is None


def test_a_typed_message_is_text(page, refusals: list[str]) -> None:
    ask(page, PAYLOAD)
    wait_for_replies(page)
    _assert_inert(page, "#thread")
    assert refusals == []


def test_replies_and_source_titles_from_the_server_are_text(context, site: str, webapp_key: str,
                                                              refusals: list[str]) -> None:
    """A bot reply and the title of a passage it cites (as a knowledge base may hold), and an agent's answer,
    all stored through the API, in the chat page and in the agent view."""
    with _api(site, webapp_key) as api:
        conversation = api.post("/conversations", json={"model": LLAMA}).json()["id"]
        turns = [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": PAYLOAD, "model": LLAMA,
             "sources": [{"id": "p1", "title": PAYLOAD, "source": "policies.md"}]},
            {"role": "agent", "content": PAYLOAD},
        ]
        for turn in turns:
            api.post(f"/conversations/{conversation}/messages", json=turn).raise_for_status()
        api.post(f"/conversations/{conversation}/handoff").raise_for_status()
    chat = context.new_page()
    chat.goto(f"/#{conversation}")
    expect(chat.locator(".msg-assistant .msg-sources")).to_contain_text(PAYLOAD)
    _assert_inert(chat, "#thread")
    agent = context.new_page()
    agent.goto("/agent.html")
    agent.locator("#queue button", has_text=QUESTION).click()
    expect(agent.locator("main")).to_contain_text(PAYLOAD)
    _assert_inert(agent, "main")
    assert refusals == []


@pytest.mark.parametrize("path", PAGES)
def test_each_page_keeps_its_policy(context, site: str, path: str, refusals: list[str]) -> None:
    """Served with the policy, every page loads and works under it: the browser refuses nothing."""
    headers = httpx.get(site + path).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    page = context.new_page()
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert refusals == []


def test_the_policy_stops_what_a_page_did_not_bring(context, site: str, refusals: list[str]) -> None:
    """Were markup ever injected, the browser would still refuse its inline handler and a foreign script."""
    page = context.new_page()
    page.goto("/")
    page.evaluate("""() => {
        const box = document.createElement("div");
        box.innerHTML = '<img src="data:," onerror="window.__injected = 1">';
        document.body.append(box);
        const script = document.createElement("script");
        script.src = "https://cdn.example.com/x.js";
        document.body.append(script);
    }""")
    for _ in range(50):  # the browser reports each refusal on the console as it happens
        if len(refusals) >= 2:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__injected") is None
    assert len(refusals) >= 2, refusals


@pytest.mark.parametrize("origins", [[], ["https://shop.example.com"]])
def test_cors_is_off_unless_an_origin_is_named(webapp_settings, origins: list[str]) -> None:
    settings = webapp_settings.model_copy(update={"port": free_port(), "cors_origin": origins, "no_auth": True})
    with running_server(settings) as url:
        for origin in ("https://shop.example.com", "https://evil.example.com"):
            preflight = httpx.options(f"{url}/chat/completions", headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            })
            simple = httpx.get(f"{url}/models", headers={"Origin": origin})
            allowed = origin in origins
            assert (preflight.headers.get("access-control-allow-origin") == origin) == allowed
            assert (simple.headers.get("access-control-allow-origin") == origin) == allowed
            if allowed:
                assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
            else:
                assert "access-control-allow-origin" not in simple.headers
