"""CLI commands of the inference stage: ``caretune export`` and ``caretune chat``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from caretune.cli.app import app
from caretune.cli.options import Cli, EngineOption, KnowledgeOption, ThreadsOption, config_command
from caretune.export.gate_record import GateThresholds

_CHAT_HELP = "Commands: /reset (forget the conversation), /system TEXT, /params NAME=VALUE ..., /quit."


_GATE_CLI = {"turns": Cli(names=("--gate-turns",)), "reply_tokens": Cli(names=("--gate-reply-tokens",))}


@app.command()
@config_command(GateThresholds, cli=_GATE_CLI)
def export(
    limits: GateThresholds,
    run: Annotated[Path, typer.Argument(help="Run directory (runs/NAME).")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="gguf-lora (llama.cpp adapter), gguf (merged), gguf-q4 / gguf-q8 (merged, re-quantised to "
            "Q4_K_M / Q8_0, quality-gated: served instead of the adapter when it passes), hf (merged).",
        ),
    ] = "gguf-lora",
    out: Annotated[Optional[Path], typer.Option(help="Where to write (default: RUN/export/...).")] = None,
    dtype: Annotated[str, typer.Option(help="Weights of a merged GGUF: f16 or f32.")] = "f16",
    gate_data: Annotated[
        Optional[Path], typer.Option(help="Held-out chat JSONL for the gate (default: the run's validation file).")
    ] = None,
    threads: ThreadsOption = None,
) -> None:
    """Export a fine-tuned run for llama.cpp (adapter or merged GGUF) or as a merged Hugging Face directory."""
    from caretune.errors import InputError
    from caretune.export.quantize import QUANT_FORMATS
    from caretune.export.run import export_run
    from caretune.runs.layout import EXPORT_NAMES

    if format not in EXPORT_NAMES:
        raise InputError(f"--format must be one of {', '.join(EXPORT_NAMES)}, not {format!r}")
    if dtype not in ("f16", "f32"):
        raise InputError(f"--dtype must be f16 or f32, not {dtype!r}")
    if format in QUANT_FORMATS:
        if out is not None:
            raise InputError("--out: a gated merge is written into the run's export/, where serving looks for it")
        _export_gated(run, format, gate_data, limits, threads)
        return
    typer.echo(export_run(run, format, out, dtype))


def _export_gated(run: Path, fmt: str, data: Path | None, limits: GateThresholds, threads: int | None) -> None:
    """Merge, quantise and gate; print the figures, then the merge's path. A failed gate is a finding (exit
    1): serving keeps the runtime adapter."""
    from caretune.errors import EXIT_FINDINGS
    from caretune.evaluation.quant_gate import export_and_gate

    merged, record = export_and_gate(run, fmt, data, limits, threads)
    figures = record.figures
    typer.echo(
        f"gate on {figures.turns} held-out turns ({figures.scored_tokens} reply tokens): perplexity "
        f"{figures.perplexity:.3f} vs {figures.reference_perplexity:.3f} with the runtime adapter "
        f"({figures.perplexity_increase:+.1%}); the same first choice at {figures.token_agreement:.1%} of those "
        f"tokens; identical greedy replies {figures.exact_agreement:.0%} (first {limits.reply_tokens} tokens of "
        f"{figures.prompts} replies)",
        err=True,
    )
    typer.echo(merged)
    if not record.passed:
        typer.echo(f"gate failed ({'; '.join(record.failures)}): serving keeps the runtime adapter", err=True)
        raise typer.Exit(EXIT_FINDINGS)
    typer.echo("gate passed: serving uses the merged model", err=True)


@app.command(epilog=_CHAT_HELP)
def chat(
    model: Annotated[str, typer.Argument(help="Run directory, registry name, HF directory or GGUF file.")],
    engine: EngineOption = "auto",
    threads: ThreadsOption = None,
    system: Annotated[Optional[str], typer.Option(help="System prompt (default: the run's).")] = None,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.7,
    max_tokens: Annotated[int, typer.Option(help="Longest reply, in tokens.")] = 256,
    knowledge: KnowledgeOption = None,
) -> None:
    """Chat with a model in the terminal, with the server's prompt format and stop sequences."""
    from caretune.answering.session import ChatSession
    from caretune.engines import SamplingParams, load_engine

    loaded = load_engine(model, engine=engine, n_threads=threads)
    try:
        session = ChatSession(
            loaded, system, SamplingParams(temperature=temperature, max_tokens=max_tokens), _knowledge(knowledge)
        )
        typer.echo(f"Chatting with {loaded.model_id}. {_CHAT_HELP}")
        _chat_loop(session)
    finally:
        loaded.close()


def _knowledge(path: Path | None):  # -> KnowledgeSettings | None
    from caretune.runs.info import KnowledgeSettings

    return KnowledgeSettings(path=str(path)) if path is not None else None


def _chat_loop(session) -> None:
    """Read lines until /quit or end of input; a command's mistake is reported and the chat goes on."""
    from caretune.errors import CaretuneError

    while True:
        try:
            line = input("You: ").strip()
        except EOFError:
            typer.echo()
            return
        if line == "/quit":
            return
        try:
            _handle(session, line)
        except CaretuneError as exc:
            typer.echo(f"error: {exc}", err=True)


def _handle(session, line: str) -> None:
    command, _, rest = line.partition(" ")
    if command == "/reset":
        session.reset()
        typer.echo("(conversation reset)")
    elif command == "/system":
        session.set_system(rest.strip())
        typer.echo("(system prompt set)" if rest.strip() else "(system prompt: the model's own again)")
    elif command == "/params":
        params = session.update_params(rest.split())
        typer.echo(f"(temperature={params.temperature} top_p={params.top_p} max_tokens={params.max_tokens})")
    elif line.startswith("/"):
        typer.echo(f"unknown command {command}. {_CHAT_HELP}", err=True)
    elif line:
        typer.echo("Agent:", nl=False)
        for delta in session.reply(line):
            typer.echo(delta, nl=False)
        typer.echo()
        decision = session.last_decision
        if decision.action != "answer":
            typer.echo(f"({decision.action}: {decision.reason})")
        elif session.last_sources:
            typer.echo(f"(from: {', '.join(dict.fromkeys(p.title for p in session.last_sources))})")
