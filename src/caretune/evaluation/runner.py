"""``caretune eval`` as a library: load the turns, run every system on them, score, assemble the report.

Systems run one after another and each engine is closed before the next loads, so evaluating several 270M
models fits in a small machine's memory.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from caretune.runs.refs import resolve_ref
from caretune.errors import InputError
from caretune.evaluation.config import EvalConfig, ModelSpec
from caretune.knowledge.embeddings import get_embedder
from caretune.evaluation.fewshot import pick_examples
from caretune.evaluation.hf_model import base_of, display_name, load_causal_lm
from caretune.evaluation.handoff import OFF_DOMAIN_QUESTIONS, HandoffReport, calibrate
from caretune.evaluation.likelihood import score_turns
from caretune.evaluation.outcomes import Outcome, load_outcomes, outcome_key
from caretune.evaluation.questions import load_question_rows
from caretune.evaluation.responders import RetrievalResponder, few_shot_responder, model_responder
from caretune.evaluation.retrieval import RetrievalIndex
from caretune.evaluation.schema import EvalReport, EvalSettings, Metrics, Mode, Sample, SystemResult
from caretune.evaluation.paired import PairedDiff, paired_diff
from caretune.evaluation.scoring import (
    by_brand,
    fact_checks,
    reference_free_metrics,
    reference_metrics,
    rouge_per_turn,
)
from caretune.evaluation.turns import Turn, asked, load_turns


def _workload(config: EvalConfig) -> list[Turn]:
    """The turns to answer: held-out agent turns, or customer questions as one-message histories."""
    if config.questions is not None:
        rows = load_question_rows(config.questions, config.text_column, config.limit, config.seed)
        system = [{"role": "system", "content": config.system}] if config.system else []
        return [
            Turn(history=[*system, {"role": "user", "content": q.text}], facts=q.facts, truth=q.truth) for q in rows
        ]
    if config.data is None:
        raise InputError("pass --data (held-out conversations) or --questions (customer messages)")
    return load_turns(config.data, config.limit, config.seed)


def _train_path(config: EvalConfig) -> Path:
    """``--train``, else the ``train.jsonl`` beside ``--data`` (what ``caretune prepare`` writes), else the
    file the first model (a run) was trained on."""
    if config.train is not None:
        return config.train
    if config.data is not None and (config.data.parent / "train.jsonl").is_file():
        return config.data.parent / "train.jsonl"
    run = resolve_ref(ModelSpec.parse(config.models[0]).ref).run
    trained_on = next(iter(run.data), None) if run is not None else None
    if trained_on is not None and Path(trained_on).is_file():
        return Path(trained_on)
    raise InputError("the baselines need training conversations: pass --train FILE (e.g. prepared/train.jsonl)")


def _run_model(  # noqa: ANN001 - params is a SamplingParams (engines are imported lazily)
    key: str, system: str, name: str, turns: list[Turn], config: EvalConfig, params, logprobs: bool = False
) -> Outcome:
    """Generate with the model as served, then (reference mode) score its likelihood with transformers (on the
    conversation alone: perplexity does not see retrieved passages)."""
    engine, replies = _generate(system, name, turns, config, params, logprobs)
    stats = None
    if config.mode == "reference":
        spec = ModelSpec.parse(system)
        model = load_causal_lm(spec.ref)
        if model is not None:
            tokenizer, fmt = engine.prompting.tokenizer, engine.prompt_format
            stats = score_turns(model, tokenizer, fmt, turns, engine.context_length, name)
        del model
    return Outcome(key=key, name=name, kind="model", source=system, replies=replies, stats=stats)


def _generate(  # noqa: ANN001, ANN202 - params is a SamplingParams, the engine an Engine (imported lazily)
    system: str, name: str, turns: list[Turn], config: EvalConfig, params, logprobs: bool = False
):
    """The (closed) engine and its replies to ``turns``, prompted as the model is served."""
    from caretune.engines import load_engine

    spec = ModelSpec.parse(system)
    engine = load_engine(spec.ref, engine=config.engine, n_threads=config.threads)
    try:
        knowledge = spec.knowledge_settings(engine.prompting.knowledge)
        replies = model_responder(name, engine, params, knowledge, logprobs).respond([t.history for t in turns])
    finally:
        engine.close()
    return engine, replies


def _run_few_shot(  # noqa: ANN001 - params is a SamplingParams (engines are imported lazily)
    key: str, base: str, turns: list[Turn], train: list[Turn], config: EvalConfig, params
) -> Outcome:
    """The base model with an example dialogue in the prompt."""
    from caretune.engines import load_engine

    name = _few_shot_name(base)
    engine = load_engine(base, engine=config.engine, n_threads=config.threads)
    try:
        examples = pick_examples(train, seed=config.seed)
        replies = few_shot_responder(name, engine, params, examples).respond([t.history for t in turns])
    finally:
        engine.close()
    return Outcome(key=key, name=name, kind="few-shot", source=base, replies=replies)


def _few_shot_name(base: str) -> str:
    """The few-shot baseline's name in tables: which base model it prompts."""
    return f"few-shot {display_name(base)}"


def _unique_names(systems: list[str]) -> list[str]:
    """Display names (``+ KB`` with a knowledge base, ``without knowledge`` for ``@none``), suffixed where two
    would look the same in a table."""
    names: list[str] = []
    for system in systems:
        spec = ModelSpec.parse(system)
        name = display_name(spec.ref)
        if spec.knowledge is not None:
            name += " without knowledge" if spec.knowledge == "none" else f" + {Path(spec.knowledge).name}"
        names.append(name if name not in names else f"{name} ({len(names) + 1})")
    return names


Aggregate = Callable[[list[int]], Metrics]


PerTurn = dict[str, list[float]]


def _per_turn(outcome: Outcome, turns: list[Turn], mode: Mode, stated: str = "") -> PerTurn:
    """The per-turn scores behind the means (embedded once per system), for aggregates and paired tests."""
    texts = [r.text for r in outcome.replies]
    if mode == "questions":
        scores = {"on_topic": get_embedder().pair_similarity([t.history[-1]["content"] for t in turns], texts)}
        return scores | fact_checks(texts, turns, stated)
    refs = [t.reference or "" for t in turns]
    embedder = get_embedder()
    return {
        "semantic_similarity": embedder.pair_similarity(texts, refs),
        "rouge_l": rouge_per_turn(texts, refs),
        "embedding_average": embedder.embedding_average(texts, refs),
    }


def _reference_aggregate(outcome: Outcome, turns: list[Turn], scores: PerTurn) -> Aggregate:
    """Metrics of any subset of turns against the real replies."""
    refs = [t.reference or "" for t in turns]
    sims, rouge, average = scores["semantic_similarity"], scores["rouge_l"], scores["embedding_average"]

    def aggregate(idx: list[int]) -> Metrics:
        stats = [outcome.stats[i] for i in idx] if outcome.stats is not None else None
        replies = [outcome.replies[i] for i in idx]
        return reference_metrics(
            replies, [refs[i] for i in idx], [sims[i] for i in idx], [rouge[i] for i in idx], stats,
            [average[i] for i in idx],
        )

    return aggregate


def _questions_aggregate(outcome: Outcome, turns: list[Turn], scores: PerTurn) -> Aggregate:
    """Reference-free metrics of any subset of questions (on-topic = question-reply similarity)."""
    def aggregate(idx: list[int]) -> Metrics:
        picked = {name: [values[i] for i in idx] for name, values in scores.items()}
        return reference_free_metrics([outcome.replies[i] for i in idx], picked.pop("on_topic"), picked)

    return aggregate


def _score(outcome: Outcome, turns: list[Turn], mode: Mode, scores: PerTurn) -> SystemResult:
    """Overall and per-brand metrics of one system."""
    aggregate = (_reference_aggregate if mode == "reference" else _questions_aggregate)(outcome, turns, scores)
    return SystemResult(
        name=outcome.name, kind=outcome.kind, source=outcome.source,
        metrics=aggregate(list(range(len(turns)))), per_brand=by_brand([t.brand for t in turns], aggregate),
    )


def _paired(outcomes: list[Outcome], scores: list[PerTurn], seed: int) -> list[PairedDiff]:
    """The first model (the fine-tune under test) against every other system, on each per-turn score."""
    if not outcomes:
        return []
    first, *others = zip(outcomes, scores)
    return [
        paired_diff(first[0].name, outcome.name, metric, first[1][metric], theirs[metric], seed)
        for outcome, theirs in others
        for metric in first[1]
    ]


def _samples(turns: list[Turn], outcomes: list[Outcome], n: int, seed: int) -> list[Sample]:
    """``n`` seeded random turns with every system's reply side by side (none when nothing replied)."""
    if not outcomes:
        return []
    chosen = sorted(random.Random(seed).sample(range(len(turns)), min(n, len(turns))))
    return [
        Sample(history=turns[i].history, reference=turns[i].reference,
               replies={o.name: o.replies[i].text for o in outcomes})
        for i in chosen
    ]


def _outcomes(
    config: EvalConfig, turns: list[Turn], train: list[Turn], train_path: Path, base: str
) -> list[Outcome]:
    """Every system's outcome, reusing a previous report's where its key matches."""
    cached = load_outcomes(config.reuse) if config.reuse is not None else {}
    params = _params(config)
    outcomes = []
    for position, (ref, name) in enumerate(zip(config.models, _unique_names(config.models))):
        logprobs = position == 0 and config.off_domain is not None  # a candidate signal of the hand-off
        key = outcome_key("model", ref, turns, config.generation | ({"logprobs": True} if logprobs else {}))
        hit = cached.get(key)
        outcome = hit.model_copy(update={"name": name}) if hit else None
        outcomes.append(outcome or _run_model(key, ref, name, turns, config, params, logprobs))
    key = outcome_key("few-shot", base, turns, config.generation)
    outcomes.append(cached.get(key) or _run_few_shot(key, base, turns, train, config, params))
    index = RetrievalIndex(train, get_embedder())
    replies = RetrievalResponder("retrieval", index).respond([t.history for t in turns])
    key = outcome_key("retrieval", str(train_path), turns, config.generation)
    outcomes.append(Outcome(key=key, name="retrieval", kind="retrieval", source=str(train_path), replies=replies))
    return outcomes


def _params(config: EvalConfig):  # noqa: ANN202 - a SamplingParams (engines are imported lazily)
    """How every model generates: greedy by default, at most ``max_tokens``."""
    from caretune.engines import SamplingParams

    return SamplingParams(max_tokens=config.max_tokens, temperature=config.temperature, seed=config.seed)


def _calibrate_handoff(
    config: EvalConfig, turns: list[Turn], train: list[Turn], outcomes: list[Outcome], scores: list[PerTurn]
) -> HandoffReport:
    """Fit the first model's hand-off on its held-out turns against ``--off-domain``, with the training
    turns' questions as the bot's own, and write it into its run (a hand-over message already set there is
    kept)."""
    spec = ModelSpec.parse(config.models[0])
    ref = resolve_ref(spec.ref)
    knowledge = spec.knowledge_settings(ref.run.knowledge if ref.run else None)
    if knowledge is None:
        raise InputError("the hand-off is judged by the knowledge base: evaluate the model with one (REF@KB)")
    rows = load_question_rows(
        config.off_domain, config.text_column, OFF_DOMAIN_QUESTIONS, config.seed  # type: ignore[arg-type]
    )
    off = asked([q.text for q in rows])
    quality = {o.name: s["semantic_similarity"] for o, s in zip(outcomes, scores) if o.kind == "model"}
    logprobs = _reply_logprobs(config, outcomes[0], off) if outcomes else None
    report = calibrate(turns, off, knowledge, config.seed, quality, logprobs, config.handoff_refused, train)
    if ref.run is not None and ref.run_dir is not None and ref.checkpoint is None:
        kept = ref.run.handoff.model_dump(include={"message", "clarify_message"}) if ref.run.handoff else {}
        ref.run.model_copy(update={"handoff": report.settings.model_copy(update=kept)}).save(ref.run_dir)
    return report


def _reply_logprobs(config: EvalConfig, first: Outcome, off: list[Turn]) -> list[float] | None:
    """The first model's mean token log-probability on its reply to every in-domain, then off-domain, question
    (None when its in-domain replies were reused from a report that did not record them)."""
    own = [r.mean_logprob for r in first.replies]
    if any(v is None for v in own):
        return None
    _, replies = _generate(config.models[0], f"{first.name} (off-domain)", off, config, _params(config), True)
    return [*own, *(r.mean_logprob or 0.0 for r in replies)]  # type: ignore[misc]


def _brand_counts(turns: list[Turn]) -> dict[str, int]:
    """Turns per brand, for the per-brand table (empty when the data has no brands)."""
    return dict(Counter(t.brand for t in turns if t.brand))


def evaluate(config: EvalConfig) -> tuple[EvalReport, list[Outcome]]:
    """Run every model and both baselines on the workload; the report and the raw outcomes behind it."""
    if not config.models:
        raise InputError("give at least one model to evaluate (--model)")
    start = time.perf_counter()
    turns = _workload(config)
    train_path = _train_path(config)
    config = config.model_copy(update={"train": train_path})
    base = config.base or base_of(ModelSpec.parse(config.models[0]).ref)
    train = load_turns(train_path)  # the baselines' examples, and the hand-off's past questions
    outcomes = [] if config.handoff_only else _outcomes(config, turns, train, train_path, base)
    settings = EvalSettings(
        models=config.models, data=config.questions or config.data, train=train_path, base=base,
        limit=config.limit, seed=config.seed, engine=config.engine, max_tokens=config.max_tokens,
        temperature=config.temperature,
    )
    # what the company's agents said, which a reply may repeat without inventing it
    stated = "\n".join(t.reference or "" for t in train) if config.mode == "questions" else ""
    scores = [_per_turn(o, turns, config.mode, stated) for o in outcomes]
    report = EvalReport(
        mode=config.mode, settings=settings, n_turns=len(turns), brands=_brand_counts(turns),
        systems=[_score(o, turns, config.mode, s) for o, s in zip(outcomes, scores)],
        paired=_paired(outcomes, scores, config.seed),
        samples=_samples(turns, outcomes, config.n_samples, config.seed),
        handoff=_calibrate_handoff(config, turns, train, outcomes, scores) if config.off_domain is not None else None,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        wall_time_s=time.perf_counter() - start,
    )
    return report, outcomes
