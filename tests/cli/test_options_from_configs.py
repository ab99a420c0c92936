"""The commands whose work is one config model take their options from it: same names as always, and each
default and help text the model's own, so the CLI and the library cannot drift apart."""

from __future__ import annotations

import pytest
import typer

from caretune.cli import app
from caretune.data.config import PrepareConfig
from caretune.evaluation.config import EvalConfig
from caretune.server.settings import ServerSettings
from caretune.storage.keys import KeySpec
from caretune.training.config import TrainConfig

# The options each command had before they were built from the models (and must keep), and those added since.
OPTIONS = {
    ("train",): (TrainConfig, [
        "--data", "--out", "--base", "--method", "--n-epochs", "--batch-size", "--learning-rate-multiplier",
        "--lora-r", "--lora-alpha", "--max-seq-len", "--seed", "--validation-file", "--max-eval-examples",
        "--knowledge", "--passages", "--resume", "--max-steps", "--eval-steps", "--save-steps", "--bf16",
        "--prompt-loss-weight",
    ]),
    ("serve",): (ServerSettings, [
        "--host", "--port", "--database-url", "--data-dir", "--no-auth", "--max-loaded-models", "--max-upload-mb",
        "--model", "--knowledge", "--engine", "--threads", "--max-queue", "--alias", "--gpt3-aliases",
        "--handoff-threshold", "--handoff-message", "--max-body-mb", "--cors-origin", "--prompt-cache-mb",
        "--prompt-cache-dir", "--prompt-lookup", "--lora-mode",
    ]),
    ("prepare",): (PrepareConfig, [
        "--out", "--input-format", "--format", "--system-prompt", "--brand", "--min-turns", "--max-turns",
        "--max-examples", "--valid-fraction", "--test-fraction", "--seed", "--keep-signatures", "--anonymize",
        "--on-bad-rows", "--separator", "--stop", "--quiet", "--columns",
    ]),
    ("eval",): (EvalConfig, [
        "--model", "--data", "--questions", "--out", "--train", "--base", "--limit", "--seed", "--engine",
        "--threads", "--max-tokens", "--temperature", "--text-column", "--system", "--samples", "--reuse",
        "--compare", "--off-domain", "--handoff-refused", "--handoff-only",
    ]),
    ("keys", "create"): (KeySpec, [
        "--name", "--role", "--models", "--rate-limit", "--tokens-per-day", "--database-url", "--data-dir",
    ]),
    ("keys", "list"): (ServerSettings, ["--database-url", "--data-dir"]),
    ("keys", "usage"): (ServerSettings, ["--days", "--key", "--database-url", "--data-dir"]),
    ("keys", "revoke"): (ServerSettings, ["--database-url", "--data-dir"]),
    ("feedback", "export"): (ServerSettings, ["--out", "--database-url", "--data-dir"]),
}


def _command(path: tuple[str, ...]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("path", list(OPTIONS), ids=" ".join)
def test_options_keep_their_names_and_come_from_the_model(path: tuple[str, ...]) -> None:
    model, names = OPTIONS[path]
    options = [p for p in _command(path).params if p.param_type_name == "option" and p.name != "help"]
    assert sorted(o.opts[0] for o in options) == sorted(names)
    from_model = [o for o in options if o.name in model.model_fields]
    assert len(from_model) >= len(names) - 3  # at most the command's own few (--quiet, --out, --compare, --name)
    for option in from_model:
        field = model.model_fields[option.name]
        assert option.help == field.description, option.name
        if field.default_factory is None and not field.is_required():
            shown = option.default
            assert shown == field.default or shown == field.default.encode("unicode_escape").decode(), option.name


def test_a_value_the_model_refuses_is_a_usage_error_naming_the_option(tmp_path) -> None:
    from tests.cli.runner import caretune

    done = caretune("train", "--data", tmp_path, "--out", tmp_path / "r", "--n-epochs", "51")
    assert done.returncode == 2 and "--n-epochs" in done.stderr
    done = caretune("prepare", tmp_path / "x.csv", "--out", tmp_path / "o", "--valid-fraction", "0.6",
                    "--test-fraction", "0.5")
    assert done.returncode == 2 and "below 1" in done.stderr
