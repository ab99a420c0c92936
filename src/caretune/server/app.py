"""``create_app``: the OpenAI-compatible API, the chat app's routes and its static page, in one FastAPI app.

Only wiring lives here: state is built once, each area's routes come from ``server/routes/<area>.py``, and
errors of every kind leave in OpenAI's shape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from caretune.server.routes import (
    audit,
    chat,
    completions,
    conversations,
    files,
    fine_tunes,
    fine_tuning,
    keys,
    knowledge,
    metrics,
    models,
    uploads,
)

from caretune.server.body_limit import BodyLimit
from caretune.server.browser_policy import SecurityHeaders, allow_origins
from caretune.server.catalog import Catalog
from caretune.server.engine_pool import EnginePool
from caretune.server.errors import CatchUnexpected, install_error_handlers
from caretune.server.job_scheduler import JobScheduler
from caretune.server.limits import UsageMeter
from caretune.server.serving_uploads import parts_root, sweep_parts
from caretune.server.metrics import RequestMetrics, ServerMetrics
from caretune.server.settings import ServerSettings
from caretune.server.state import ServerState
from caretune.storage.db import create_all, make_engine, session_factory
from caretune.storage.files import FileStore, stored_ids
from caretune.storage.keys import KeyLookup
from caretune.webapp import STATIC_DIR

log = logging.getLogger("caretune.server")



def build_state(settings: ServerSettings) -> ServerState:
    """Open the database (creating the tables) and the file store, and clear what an earlier run's refused
    or interrupted uploads left in it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.resolved_database_url())
    create_all(db)
    sessions = session_factory(db)
    files = FileStore(settings.data_dir / "files")
    with sessions() as session:
        if removed := files.sweep(stored_ids(session)):
            log.warning("removed %d file(s) of unfinished uploads from %s", len(removed), files.root)
        sweep_parts(session, parts_root(settings.data_dir))
    engines = EnginePool(
        settings.max_loaded_models, settings.engine, settings.max_queue, settings.threads,
        prompt_cache_mb=settings.prompt_cache_mb, prompt_cache_dir=settings.prompt_cache_dir,
        prompt_lookup=settings.prompt_lookup, lora_mode=settings.engine_lora_mode(),
    )
    return ServerState(
        settings=settings,
        db=db,
        sessions=sessions,
        files=files,
        catalog=Catalog(
            settings.models, sessions, settings.org, settings.aliases, settings.gpt3_aliases,
            settings.served_knowledge(), settings.served_handoff(),
        ),
        engines=engines,
        keys=KeyLookup(db),
        usage=UsageMeter(sessions),
        metrics=ServerMetrics(engines, sessions),
    )


def create_app(settings: ServerSettings) -> FastAPI:
    """The whole server for ``settings``; the caller runs it (uvicorn)."""
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.no_auth:
            log.warning(
                "authentication is OFF (--no-auth): anyone who can reach this port is an admin; for local use only"
            )
        scheduler = (
            JobScheduler(settings, state.sessions, state.files, state.jobs_changed) if settings.run_worker else None
        )
        if scheduler is not None:
            scheduler.start()
        state.usage.start()
        yield
        state.usage.stop()
        if scheduler is not None:
            scheduler.stop()
        state.keys.close()
        state.db.dispose()

    # No /docs or /redoc: those pages load their scripts from a CDN into this origin, where the chat page keeps
    # its API key; the policy (browser_policy.py) refuses foreign scripts. /openapi.json is served.
    app = FastAPI(title="caretune", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="OpenAI-compatible API for self-hosted support chatbots.")
    app.state.caretune = state
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit, max_upload_bytes=int(settings.max_upload_mb * (1 << 20)),
        max_body_bytes=int(settings.max_body_mb * (1 << 20)),
    )
    allow_origins(app, settings.cors_origin)
    app.add_middleware(CatchUnexpected)
    app.add_middleware(RequestMetrics, metrics=state.metrics)  # outside the others: it counts their 413s and 500s
    app.add_middleware(SecurityHeaders)  # last: the outermost, so every response has them, a 500 too
    areas = (
        models, completions, chat, files, uploads, fine_tuning, fine_tunes, knowledge, conversations, keys, audit,
        metrics,
    )
    for area in areas:
        app.include_router(area.router)
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="webapp")
    return app
