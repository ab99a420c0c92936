"""`caretune ask`: the same questions to several models, answers side by side.

This is the README demo's last step (the base model against the fine-tune on the demo shop's questions),
and a quick way to eyeball any fine-tune before serving it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from caretune.cli.app import app
from caretune.cli.options import EngineOption, KnowledgeOption, ThreadsOption

if TYPE_CHECKING:
    from caretune.engines import Engine, SamplingParams


@app.command()
def ask(
    questions: Annotated[
        list[str] | None, typer.Argument(help="Customer messages; default: the built-in demo shop's questions.")
    ] = None,
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="Registry name, HF directory or run directory (repeatable).")
    ] = ["gemma-3-270m"],  # noqa: B006 - Typer needs a list default
    system: Annotated[
        str | None, typer.Option(help="System prompt for every model; default: the first run's own.")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 96,
    engine: EngineOption = "auto",
    threads: ThreadsOption = None,
    knowledge: KnowledgeOption = None,
) -> None:
    """Ask every model the same questions (greedy) and print the answers side by side, each with the
    knowledge passages it was given, or the hand-over a model with a calibrated hand-off gives instead."""
    from rich.console import Console
    from rich.table import Table

    from caretune.answering import knowledge_of
    from caretune.data.demo import COMPANY, OFF_TOPIC_QUESTION, demo_questions
    from caretune.engines import SamplingParams, load_engine
    from caretune.runs.info import KnowledgeSettings

    asked = questions or [*(q.question for q in demo_questions()), OFF_TOPIC_QUESTION]
    engines = [load_engine(ref, engine=engine, n_threads=threads) for ref in model]
    system = system or next((e.system_prompt for e in engines if e.system_prompt), None)
    system = system or f"You are a customer support agent for {COMPANY.handle}."
    params = SamplingParams(max_tokens=max_tokens, temperature=0)
    override = KnowledgeSettings(path=str(knowledge)) if knowledge else None
    grounding = [knowledge_of(e, override) for e in engines]
    table = Table(title=f"System: {system}", show_lines=True, expand=True)
    table.add_column("Customer", ratio=1)
    for ref in model:
        table.add_column(ref, ratio=2)
    for question in asked:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        answers = [_answer(e, messages, kb, params) for e, kb in zip(engines, grounding)]
        table.add_row(question, *answers)
    Console().print(table)


def _answer(engine: Engine, messages: list[dict], knowledge, params: SamplingParams) -> str:
    """The answer as the server would give it: where its facts came from, or, when the model's calibrated
    hand-off decides against answering, what the customer is told instead and why."""
    from caretune.answering import handoff_of, prepare_answer, withheld_reply

    handoff = handoff_of(engine)
    answer = prepare_answer(engine, messages, knowledge, params.max_tokens, handoff)
    decision = answer.decision
    if decision.action != "answer":
        sure = f", confidence {decision.confidence:.2f}" if decision.confidence is not None else ""
        return f"{withheld_reply(handoff, decision)}\n[dim]({decision.action}: {decision.reason}{sure})[/dim]"
    stops = params.model_copy(update={"stop": engine.default_stop})  # as the server applies them
    text = engine.complete(answer.prompt, stops).choices[0].text.strip()
    titles = list(dict.fromkeys(p.title for p in answer.passages))
    return f"{text}\n[dim](from: {', '.join(titles)})[/dim]" if titles else text
