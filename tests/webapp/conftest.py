"""Fixtures of the chat app's browser tests: a live server with two tiny models, a key, Debian's Chromium.

The server is the real one (uvicorn on a loopback port, a SQLite file); the browser is /usr/bin/chromium
driven by Playwright, never a downloaded build. Without that Chromium the tests skip and say why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.live import free_port, new_key, running_server
from tests.webapp.browsing import open_chat

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GEMMA, LLAMA = "tiny-gemma", "tiny-llama"
BOT = "acme-bot"  # a fine-tune calibrated to hand over when its knowledge base does not cover a question
MODELS = (LLAMA, GEMMA, BOT)
KNOWLEDGE_BASE = "acme"  # the tiny Gemma answers from it
# Screenshots go to a temporary folder, so a test run leaves the checkout clean; set
# CARETUNE_SCREENSHOTS=docs/screenshots to refresh the README's pictures.
SCREENSHOTS_ENV = "CARETUNE_SCREENSHOTS"


@pytest.fixture(scope="session")
def webapp_settings(
    tiny_gemma_dir: Path, tiny_llama_dir: Path, tiny_llama_run: Path, tmp_path_factory: pytest.TempPathFactory
):
    """Tiny models (two bases, so compare mode has two; the Gemma answers from a knowledge base, and the bot,
    a fine-tune, answers from it too and hands over what it does not cover), auth on (so the page must ask
    for a key), no job worker.

    The tiny Llama comes first, so it is the page's default model: it generates faster than the tiny Gemma
    with the transformers engine, and most tests only need some streamed reply.
    """
    import shutil

    from caretune.knowledge import KnowledgeBase
    from caretune.runs.info import RunInfo
    from caretune.server.settings import ServerSettings
    from tests.knowledge.helpers import POLICIES
    from tests.server.test_handoff_api import BY_SIMILARITY

    bot = shutil.copytree(tiny_llama_run, tmp_path_factory.mktemp("webapp_runs") / BOT)
    RunInfo.load(bot).model_copy(update={"handoff": BY_SIMILARITY}).save(bot)
    settings = ServerSettings(
        port=free_port(),
        data_dir=tmp_path_factory.mktemp("webapp_server"),
        models=[f"{LLAMA}={tiny_llama_dir}", f"{GEMMA}={tiny_gemma_dir}", f"{BOT}={bot}"],
        knowledge=[f"{GEMMA}={KNOWLEDGE_BASE}", f"{BOT}={KNOWLEDGE_BASE}"],
        engine="transformers",
        run_worker=False,
    )
    docs = tmp_path_factory.mktemp("webapp_docs") / "policies.md"
    docs.write_text(POLICIES, encoding="utf-8")
    KnowledgeBase(settings.knowledge_dir / KNOWLEDGE_BASE, create=True).add([docs])
    return settings


@pytest.fixture(scope="session")
def webapp_key(webapp_settings) -> str:
    """An admin key of the test server."""
    return new_key(webapp_settings)


@pytest.fixture(scope="session")
def app_key(webapp_settings) -> str:
    """An app key of the test server, as a public chat page holds."""
    return new_key(webapp_settings, "app")


@pytest.fixture(scope="session")
def agent_key(webapp_settings) -> str:
    """A support agent's key of the test server."""
    return new_key(webapp_settings, "agent")


@pytest.fixture(scope="session")
def site(webapp_settings, webapp_key: str) -> Iterator[str]:
    """The root URL of the running server (the chat page)."""
    with running_server(webapp_settings) as api_url:
        yield api_url.removesuffix("/v1")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's headless Chromium, launched once for the session."""
    if not CHROMIUM.exists():
        pytest.skip("the browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def make_context(browser, site: str, webapp_key: str) -> Iterator[Callable[..., object]]:
    """Opens fresh browser profiles (desktop size unless told); ``with_key`` stores an API key first (the
    admin's unless ``key`` names another)."""
    opened = []

    def make(with_key: bool = True, key: str | None = None, **options: object) -> object:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=site, **options)
        if with_key:
            context.add_init_script(f"localStorage.setItem('caretune.apiKey', {key or webapp_key!r})")
        context.set_default_timeout(30_000)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture()
def context(make_context) -> object:
    """A desktop browser profile that already holds the API key, as after a first visit."""
    return make_context()


@pytest.fixture()
def page(context) -> object:
    """A tab on the chat page, with the pickers filled (the models have loaded)."""
    return open_chat(context)


@pytest.fixture()
def screenshot(tmp_path: Path):
    """Saves a page as NAME.png: under $CARETUNE_SCREENSHOTS (the README's pictures) or a temporary folder."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")

    def save(page, name: str, full_page: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)

    return save
