"""Compare mode, a phone-sized screen and the admin page, in a real browser."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import synthetic_conversations
from tests.webapp.browsing import ask, open_chat, wait_for_replies
from tests.webapp.conftest import GEMMA, LLAMA

pytestmark = pytest.mark.browser


def test_compare_mode_asks_two_models_side_by_side(page, screenshot) -> None:
    page.get_by_label("Compare").check()
    page.locator("#model").select_option(GEMMA)
    page.locator("#model-b").select_option(LLAMA)
    ask(page, "what are your opening hours on sunday")
    row = page.locator(".compare-row").last
    wait_for_replies(row, 2)
    expect(row.locator(".msg-meta")).to_have_text([f"Bot · {GEMMA}", f"Bot · {LLAMA}"])
    screenshot(page, "compare")

    page.reload()
    expect(page.get_by_label("Compare")).to_be_checked()
    expect(page.locator(".compare-row .msg-meta")).to_have_text([f"Bot · {GEMMA}", f"Bot · {LLAMA}"])
    expect(page.locator("#thread .msg-user")).to_have_count(1)  # one question, answered by both


def test_a_phone_sized_screen(make_context, screenshot) -> None:
    page = open_chat(make_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True))
    expect(page.locator("#history")).to_be_hidden()
    ask(page, "where is my parcel")
    wait_for_replies(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the page scrolls sideways"
    screenshot(page, "phone")

    page.get_by_role("button", name="History").click()
    expect(page.locator("#history")).to_be_visible()
    expect(page.get_by_role("button", name="History")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(page.locator("#history")).to_be_hidden()


def _add_metrics(settings, job_id: str, steps: range) -> None:
    """Record training steps of a job the way the job runner does while it trains."""
    from caretune.storage.db import make_engine, session_factory
    from caretune.storage.jobs import add_event

    db = make_engine(settings.resolved_database_url())
    with session_factory(db)() as session:
        for step in steps:
            loss = 3.0 / step
            add_event(
                session, job_id, f"Step {step}", data={"step": step, "train_loss": loss, "valid_loss": loss + 0.2}
            )
    db.dispose()


def test_admin_page_shows_jobs_with_a_live_loss_chart_models_and_files(
    context, site: str, webapp_key: str, webapp_settings, screenshot
) -> None:
    headers = {"Authorization": f"Bearer {webapp_key}"}
    data = "".join(json.dumps(e) + "\n" for e in synthetic_conversations(16))
    upload = httpx.post(
        f"{site}/v1/files", headers=headers, files={"file": ("support.jsonl", data)}, data={"purpose": "fine-tune"}
    )
    job = httpx.post(
        f"{site}/v1/fine_tuning/jobs", headers=headers, json={"model": GEMMA, "training_file": upload.json()["id"]}
    ).json()
    _add_metrics(webapp_settings, job["id"], range(1, 6))

    page = context.new_page()
    page.goto("/admin.html")
    expect(page.locator("#jobs tbody tr", has_text=job["id"])).to_contain_text(job["status"].replace("_", " "))
    expect(page.locator(".loss-chart circle.series-train")).to_have_count(5)
    expect(page.locator(".loss-chart circle.series-valid")).to_have_count(5)
    _add_metrics(webapp_settings, job["id"], range(6, 9))
    expect(page.locator(".loss-chart circle.series-train")).to_have_count(8, timeout=10_000)
    expect(page.locator("#models")).to_contain_text(GEMMA)
    expect(page.locator("#models")).to_contain_text(LLAMA)
    expect(page.locator("#files tbody")).to_contain_text("support.jsonl")
    screenshot(page, "admin", full_page=True)


def test_admin_page_shows_the_servers_figures(context, site: str, webapp_key: str) -> None:
    """The headline figures after real answers: the tokens they used, a time to first token, the model that
    answered, an error; each as /v1/metrics/summary (and so /metrics) has it."""
    headers = {"Authorization": f"Bearer {webapp_key}"}
    ask = {"model": LLAMA, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
    for _ in range(2):
        httpx.post(f"{site}/v1/chat/completions", headers=headers, json=ask, timeout=60).raise_for_status()
    httpx.post(f"{site}/v1/chat/completions", headers=headers, json={**ask, "model": "no-such-model"})
    summary = httpx.get(f"{site}/v1/metrics/summary", headers=headers).json()
    assert summary["completion_tokens"] > 0 and summary["errors"] > 0 and summary["time_to_first_token_p50"] > 0

    page = context.new_page()
    page.goto("/admin.html")
    figure = lambda name: page.locator("#figures div", has_text=name).locator("dd")  # noqa: E731
    expect(figure("Tokens in / out")).to_have_text(f"{summary['prompt_tokens']} / {summary['completion_tokens']}")
    expect(figure("Errors")).to_have_text(str(summary["errors"]))
    expect(figure("Time to first token")).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d\d s$"))
    expect(figure("Models loaded")).to_contain_text(LLAMA)
    expect(figure("Fine-tuning jobs")).to_contain_text("running")
    assert int(figure("Requests").inner_text()) >= summary["requests"]
