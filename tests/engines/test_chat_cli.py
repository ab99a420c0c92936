"""`caretune chat` driven through stdin in a real subprocess: streaming replies, history and commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

from caretune.engines import SamplingParams
from tests.cli.runner import caretune


def _chat(run: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    """``caretune chat`` on ``run``, greedy, with ``lines`` typed in."""
    return caretune(
        "chat", run, "--engine", "transformers", "--temperature", "0", "--max-tokens", "12",
        stdin="\n".join(lines) + "\n",
    )


def _expected(engine, messages: list[dict], max_tokens: int = 12) -> str:
    prompt = engine.render_chat(messages)
    params = SamplingParams(temperature=0, max_tokens=max_tokens, stop=engine.default_stop)
    return engine.complete(prompt, params).choices[0].text


def test_chat_streams_replies_with_history_and_commands(tiny_llama_run: Path, hf_llama_run_engine) -> None:
    system = hf_llama_run_engine.system_prompt
    first_q, second_q = "my order has not arrived yet", "how do I reset my password"
    first = _expected(
        hf_llama_run_engine, [{"role": "system", "content": system}, {"role": "user", "content": first_q}]
    )
    second = _expected(
        hf_llama_run_engine,
        [
            {"role": "system", "content": system},
            {"role": "user", "content": first_q},
            {"role": "assistant", "content": first.strip()},
            {"role": "user", "content": second_q},
        ],
    )
    after_reset = _expected(
        hf_llama_run_engine, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": second_q}], 3
    )
    result = _chat(
        tiny_llama_run,
        [
            first_q,
            second_q,
            "/reset",
            "/system Be brief.",
            "/params max_tokens=3",
            second_q,
            "/params temperature=9",
            "/nope",
            "/quit",
            "never read",
        ],
    )
    assert result.returncode == 0, result.stderr
    replies = [line.split("Agent:", 1)[1] for line in result.stdout.splitlines() if "Agent:" in line]
    assert replies == [first, second, after_reset]
    assert "(conversation reset)" in result.stdout
    assert "temperature" in result.stderr and "unknown command /nope" in result.stderr


def test_chat_ends_cleanly_at_end_of_input(tiny_llama_run: Path) -> None:
    result = _chat(tiny_llama_run, ["hello"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Agent:") == 1
