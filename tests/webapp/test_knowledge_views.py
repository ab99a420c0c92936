"""Knowledge in the browser: a grounded reply says where it came from, and the admin page shows the bases,
takes a document and ranks the passages answers used."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.webapp.browsing import ask, wait_for_replies
from tests.webapp.conftest import GEMMA, KNOWLEDGE_BASE

pytestmark = pytest.mark.browser


def test_a_grounded_reply_shows_its_sources_after_a_reload_too(page) -> None:
    page.locator("#model").select_option(GEMMA)
    ask(page, "do gift cards expire?")
    wait_for_replies(page)
    sources = page.locator(".msg-assistant .msg-sources")
    expect(sources).to_have_count(1)
    expect(sources).to_contain_text("From: Gift cards")
    page.reload()
    expect(page.locator(".msg-assistant .msg-sources")).to_contain_text("From: Gift cards")


def test_the_admin_page_lists_bases_takes_documents_and_ranks_passages(context, tmp_path, page) -> None:
    page.locator("#model").select_option(GEMMA)
    ask(page, "when are your stores open?")
    wait_for_replies(page)
    admin = context.new_page()
    admin.goto("/admin.html")
    row = admin.locator("#knowledge tbody tr", has_text=KNOWLEDGE_BASE)
    expect(row).to_contain_text("3")
    expect(admin.locator("#passage-uses tbody")).to_contain_text("Opening hours")
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nDo you ship to Canada?,Yes, in 7 to 14 business days.\n", encoding="utf-8")
    admin.locator("#knowledge-file").set_input_files(str(faq))
    admin.get_by_role("button", name="Add", exact=True).click()
    expect(admin.locator("#knowledge-status")).to_have_text("faq.csv: 1 chunk indexed.")
    expect(row).to_contain_text("4")
