"""Command-line options built from the config models, and the options several commands share.

A command whose work is one config model (``TrainConfig``, ``ServerSettings``, ``PrepareConfig``,
``EvalConfig``) gets its options from that model's fields: their names, defaults, descriptions (the help
text) and bounds, as TRL builds its CLI from its config dataclasses. So a default or a limit is written once,
in the model, and the CLI cannot drift from the library.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import annotated_types
import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from caretune.engines.loading import ENGINE_HELP, THREADS_HELP

EngineOption = Annotated[str, typer.Option(help=ENGINE_HELP)]
ThreadsOption = Annotated[Optional[int], typer.Option(min=1, help=THREADS_HELP)]
KnowledgeOption = Annotated[
    Optional[Path],
    typer.Option(help="A knowledge base to answer from (`caretune knowledge add`); default: the run's own, if any."),
]


@dataclass(frozen=True)
class Cli:
    """How a config field appears on the command line where it differs from ``--field-name``."""

    names: tuple[str, ...] = ()  # e.g. ("--out", "-o"); one name for a bool makes it a flag with no --no- form
    argument: bool = False  # a positional argument instead of an option
    convert: Callable[[Any], Any] | None = None  # applied to the value given, before validation (an unescaper
    # also gets a text default with newlines in it escaped, as the user would type it)


def config_command(
    model: type[BaseModel],
    *,
    fields: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    cli: dict[str, Cli] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``body(config, **extra)``: the command takes the model's fields as options (all, or
    ``fields``, minus ``exclude``), validates them into the model and calls ``body``; ``body``'s own other
    parameters stay options of the command. A value the model refuses is a usage error naming the option.

    The config is ``body``'s parameter annotated with ``model`` (else its first), so two decorators can fill
    one command from two models (``caretune keys create``: the key's ``KeySpec`` and the database's
    ``ServerSettings``)."""
    chosen = [name for name in (fields or model.model_fields) if name not in exclude]
    overrides = cli or {}

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        signature = list(inspect.signature(body, eval_str=True).parameters.values())
        target = next((p for p in signature if p.annotation is model), signature[0]).name
        extra = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature if p.name != target]
        params = [_parameter(name, model.model_fields[name], overrides.get(name, Cli())) for name in chosen]

        @functools.wraps(body)
        def command(**values: Any) -> Any:
            given = {name: values.pop(name) for name in chosen}
            return body(**{target: _validated(model, given, overrides)}, **values)

        command.__signature__ = inspect.Signature(params + extra)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params + extra}
        return command

    return decorate


def option_name(name: str, override: Cli | None = None) -> str:
    """What the user typed for the field ``name``: its first long option name."""
    names = override.names if override else ()
    return next((n for n in names if n.startswith("--")), "--" + name.replace("_", "-"))


def _validated(model: type[BaseModel], given: dict[str, Any], overrides: dict[str, Cli]) -> BaseModel:
    """The model from the command line's values; a value left out (None) takes the model's default."""
    values = {}
    for name, value in given.items():
        if value is None:
            continue
        convert = overrides.get(name, Cli()).convert
        values[name] = _auto_or_number(model.model_fields[name], convert(value) if convert else value)
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        where = ": ".join([option_name(loc[0], overrides.get(loc[0])), *loc[1:]]) + ": " if loc else ""
        raise typer.BadParameter(where + error["msg"].removeprefix("Value error, ")) from None


def _parameter(name: str, field: FieldInfo, override: Cli) -> inspect.Parameter:
    """The Typer parameter of one field: its type as the command line spells it, help, default and bounds."""
    kind = _cli_type(field.annotation)
    required = field.is_required()
    default = ... if required else (None if field.default_factory is not None else field.default)
    if override.convert is not None and isinstance(default, str) and not default.isprintable():
        default = default.encode("unicode_escape").decode("ascii")  # as typed (``\\nAgent:``); convert reads it
    info: Any
    if override.argument:
        info = typer.Argument(help=field.description, show_default=False)
    else:
        info = typer.Option(*override.names, help=field.description, **_bounds(field, kind))
    annotation = kind if required or default is not None else Optional[kind]
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=inspect.Parameter.empty if required else default,
        annotation=Annotated[annotation, info],
    )


def _cli_type(annotation: Any) -> Any:
    """The type the command line parses: choices and ``'auto' or a number`` are strings; None is dropped."""
    members = [a for a in _union_members(annotation) if a is not type(None)]
    if any(get_origin(m) is Literal for m in members):
        return str
    if len(members) != 1:
        raise TypeError(f"no command-line type for {annotation!r}")
    member = members[0]
    if get_origin(member) is Annotated:
        member = get_args(member)[0]
    if get_origin(member) is list:
        return list[_cli_type(get_args(member)[0])]
    return member if member in (str, int, float, bool, Path) else str


def _union_members(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]


def _auto_or_number(field: FieldInfo, value: Any) -> Any:
    """``'auto' or a number`` arrives as text: the number it spells, for a model whose numbers are strict."""
    members = [get_args(m)[0] if get_origin(m) is Annotated else m for m in _union_members(field.annotation)]
    if not isinstance(value, str) or value == "auto" or not any(get_origin(m) is Literal for m in members):
        return value
    for number in (int, float):
        if number in members:
            try:
                return number(value)
            except ValueError:
                pass
    return value


def _bounds(field: FieldInfo, kind: Any) -> dict[str, Any]:
    """Closed integer and float bounds of the field, for Click to check and ``--help`` to show."""
    if kind not in (int, float):
        return {}
    bounds: dict[str, Any] = {}
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            bounds["min"] = rule.ge
        elif isinstance(rule, annotated_types.Gt) and kind is int:
            bounds["min"] = rule.gt + 1
        elif isinstance(rule, annotated_types.Le):
            bounds["max"] = rule.le
    return bounds
