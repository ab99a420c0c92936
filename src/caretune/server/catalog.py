"""Which models this server answers for: its base models, every succeeded, undeleted fine-tune, and aliases.

Base models come from ``--model`` options (or, with none, the whole registry); fine-tunes come from the jobs
table, so a job that finishes is servable at once, with no restart. An alias (``--alias NAME=MODEL``, and the
GPT-3 names unless switched off) is another name for a model: a request for it is answered by that model.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from caretune.errors import CaretuneError
from caretune.server.errors import Forbidden, InvalidRequest, NotFound
from caretune.runs.info import KnowledgeSettings, RunInfo
from caretune.runs.layout import is_run_dir
from caretune.runs.model_ids import is_fine_tuned_id, split_checkpoint_id
from caretune.storage.db import unix
from caretune.storage.jobs import MAX_STEP_NUMBER, Job, JobCheckpoint

BASE_OWNER = "system"
# OpenAI's GPT-3 base models, which the classic fine-tuning recipes name (``-m ada``, ``engine="davinci"``).
GPT3_BASE_NAMES = ("ada", "babbage", "curie", "davinci")


class ServedModel(BaseModel):
    """A model id and what ``load_engine`` needs to load it."""

    id: str
    source: str
    created: int
    owned_by: str
    fine_tuned: bool = False
    knowledge: KnowledgeSettings | None = None  # what it answers from, when the server says (else its run's)
    handoff: dict = {}  # hand-off threshold / message the server sets over its run's (``handoff_of``)


def parse_model_option(option: str) -> tuple[str, str]:
    """``NAME=PATH`` → (NAME, PATH); a path → (its folder name, path); a registry name → (name, name)."""
    if "=" in option:
        name, source = option.split("=", 1)
        return name.strip(), source.strip()
    path = Path(option).expanduser()
    return (path.name if path.exists() else option), option


class Catalog:
    """Looks models up by id; base models are fixed at start, fine-tunes are read from the database."""

    def __init__(
        self,
        model_options: list[str],
        sessions: sessionmaker[Session],
        org: str,
        alias_options: Sequence[str] = (),
        gpt3_aliases: bool = True,
        knowledge: dict[str, KnowledgeSettings] | None = None,
        handoff: dict[str, dict] | None = None,
    ) -> None:
        self._sessions = sessions
        self._org = org
        self._knowledge = knowledge or {}
        self._handoff = handoff or {}
        self._bases = {
            name: ServedModel(id=name, source=source, created=_created(source), owned_by=BASE_OWNER)
            for name, source in map(parse_model_option, model_options or _registry_names())
        }
        self._aliases = self._alias_map(alias_options, gpt3_aliases)

    def _alias_map(self, options: Sequence[str], gpt3: bool) -> dict[str, str]:
        """Alias name → model id: the GPT-3 names (the default base), then ``NAME=MODEL`` options, which win.

        A base model's target must be served here; a fine-tuned target is looked up at each request, so an
        alias may name a fine-tune before its job has finished."""
        default = self.default_base()
        aliases = {name: default for name in GPT3_BASE_NAMES if gpt3 and name not in self._bases}
        for option in options:
            name, target = (part.strip() for part in option.split("=", 1))
            if name in self._bases:
                raise CaretuneError(f"--alias {option}: {name!r} is already a served model's name")
            if target not in self._bases and not is_fine_tuned_id(target):
                raise CaretuneError(
                    f"--alias {option}: no served model {target!r} (base models: {', '.join(self._bases)})"
                )
            aliases[name] = target
        return aliases

    def default_base(self) -> str:
        """The first base model (the first ``--model``, or the registry's default): what a job that names no
        model trains, and what the GPT-3 names stand for."""
        return next(iter(self._bases))

    def aliases(self) -> dict[str, str]:
        """Alias name → the id of the model that answers for it."""
        return dict(self._aliases)

    def resolve(self, model_id: str) -> str:
        """The id of the model that answers for ``model_id``: an alias's target, any other id itself."""
        return self._aliases.get(model_id, model_id)

    def bases(self) -> list[ServedModel]:
        """The base models, in the order they were given."""
        return list(self._bases.values())

    def fine_tunes(self) -> list[ServedModel]:
        """Every succeeded fine-tune not deleted, oldest first."""
        with self._sessions() as session:
            jobs = session.scalars(
                select(Job)
                .where(Job.status == "succeeded", Job.fine_tuned_model.is_not(None), Job.model_deleted.is_(False))
                .order_by(Job.finished_at)
            ).all()
        return [self._fine_tune(job) for job in jobs]

    def all(self) -> list[ServedModel]:
        """Base models then fine-tunes."""
        return self.bases() + self.fine_tunes()

    def get(self, model_id: str) -> ServedModel:
        """The model named ``model_id`` (a base, a fine-tune or one of its checkpoints, or an alias of one), or
        a 404 naming it; with the knowledge base the server serves it with, if any."""
        if model_id in self._aliases:
            try:
                return self.get(self._aliases[model_id])
            except NotFound:
                raise NotFound(
                    f"The model '{model_id}' is an alias of '{self._aliases[model_id]}', which does not exist",
                    param="model",
                    code="model_not_found",
                ) from None
        model = self._find(model_id)
        served = {"knowledge": self._knowledge.get(model.id), "handoff": self._handoff.get(model.id)}
        served = {field: value for field, value in served.items() if value}
        return model.model_copy(update=served) if served else model

    def _find(self, model_id: str) -> ServedModel:
        if model_id in self._bases:
            return self._bases[model_id]
        checkpoint = split_checkpoint_id(model_id)
        if checkpoint is not None:
            return self._checkpoint(model_id, *checkpoint)
        with self._sessions() as session:
            job = session.scalars(
                select(Job).where(Job.fine_tuned_model == model_id, Job.model_deleted.is_(False))
            ).first()
        if job is None or job.status != "succeeded":
            raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")
        return self._fine_tune(job)

    def _checkpoint(self, model_id: str, fine_tune_id: str, job_id: str, step: int) -> ServedModel:
        """A checkpoint of any job whose fine-tune id matches, even one still running, while it is on disk
        (training keeps the latest two: older ones answer 404 with the reason)."""
        if step > MAX_STEP_NUMBER:
            raise InvalidRequest(
                f"The model '{model_id}' names checkpoint step {step}; steps go up to {MAX_STEP_NUMBER}", param="model"
            )
        with self._sessions() as session:
            job = session.get(Job, job_id)
            saved = session.scalars(
                select(JobCheckpoint).where(JobCheckpoint.job_id == job_id, JobCheckpoint.step_number == step)
            ).first()
        if job is None or job.model_deleted or job.produced_model_id(self._org) != fine_tune_id or saved is None:
            raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")
        if not Path(saved.path).is_dir():
            raise NotFound(
                f"The checkpoint '{model_id}' is no longer on disk (training keeps the latest checkpoints only)",
                param="model",
                code="model_not_found",
            )
        created = unix(saved.created_at) or 0
        return ServedModel(id=model_id, source=saved.path, created=created, owned_by=self._org, fine_tuned=True)

    def delete(self, model_id: str) -> None:
        """Delete a fine-tune (404 if unknown, 403 for a base model): it leaves the listing; its job keeps its
        history."""
        if model_id in self._aliases:
            raise Forbidden(f"'{model_id}' is an alias of '{self._aliases[model_id]}' and cannot be deleted", "model")
        model = self.get(model_id)
        if not model.fine_tuned:
            raise Forbidden(f"The model '{model_id}' is a base model and cannot be deleted", param="model")
        with self._sessions() as session:
            session.execute(update(Job).where(Job.fine_tuned_model == model_id).values(model_deleted=True))
            session.commit()

    def base_source(self, model_id: str) -> str:
        """What a job on ``model_id`` trains from: a base model, or a fine-tune (or one of its checkpoints) to
        continue, as OpenAI allows."""
        try:
            return self.get(model_id).source
        except NotFound:
            raise NotFound(
                f"The model '{model_id}' does not exist or cannot be fine-tuned "
                f"(base models: {', '.join(self._bases)}; or a fine-tuned model)",
                param="model",
                code="model_not_found",
            ) from None

    def _fine_tune(self, job: Job) -> ServedModel:
        return ServedModel(
            id=job.fine_tuned_model or "",
            source=str(job.model_dir),
            created=unix(job.finished_at) or 0,
            owned_by=self._org,
            fine_tuned=True,
        )


def _created(source: str) -> int:
    """A base model's ``created``, the same at every start: a registry model's release date, a run's creation,
    else when its files were last written (0 when there are none to ask)."""
    from caretune.models.registry import registered

    spec = registered(source)
    if spec is not None:
        return calendar.timegm(spec.released.timetuple())
    path = Path(source).expanduser()
    if is_run_dir(path):
        return unix(RunInfo.load(path).created_at) or 0
    for written in (path / "config.json", path):
        if written.exists():
            return int(written.stat().st_mtime)
    return 0


def _registry_names() -> list[str]:
    from caretune.models.registry import list_models

    return [spec.name for spec in list_models()]
