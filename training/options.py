"""Command-line options generated from a training config dataclass (:mod:`training.config`).

One ``--field-name`` per field, typed from its annotation (``bool`` fields as
``--name/--no-name``), its help text, rules and default in ``--help``; ``--config FILE``
reads a JSON of the same names. Precedence: defaults < ``--config`` < explicit options.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from dataclasses import asdict, fields
from pathlib import Path

from .config import ConfigError, describe_rules, flag

_METAVARS = {int: "N", float: "X", str: "TEXT"}


def _value_type(annotation) -> type:
    """``int`` for ``int``, ``str`` for ``str | None``, ..."""
    if isinstance(annotation, (types.UnionType,)) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner
    return annotation


def _help(f) -> str:
    rules = "" if "choices" in f.metadata else describe_rules(f.metadata)  # the metavar lists choices
    text = f.metadata.get("help", "") + (f"; {rules}" if rules else "")
    return f"{text} (default: {f.default})".replace("%", "%%")


def add_config_args(ap: argparse.ArgumentParser, config_cls) -> None:
    """``--config FILE`` plus one option per field of ``config_cls``."""
    ap.add_argument("--config", type=Path, default=None, metavar="FILE",
                    help=f"JSON object of {config_cls.__name__} fields (option names with underscores); "
                         "options given on the command line win")
    hints = typing.get_type_hints(config_cls)
    group = ap.add_argument_group(f"{config_cls.__name__} fields (also the keys of --config)")
    for f in fields(config_cls):
        kind = _value_type(hints[f.name])
        kw = {"default": None, "help": _help(f), "dest": f.name}
        if kind is bool:
            group.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, **kw)
        else:
            # choices are checked by the config (one-line error), not by argparse
            choices = f.metadata.get("choices")
            metavar = "{" + ",".join(choices) + "}" if choices else _METAVARS.get(kind, "VALUE")
            group.add_argument(flag(f.name), type=kind, metavar=metavar, **kw)


def config_from_args(args: argparse.Namespace, config_cls):
    """Defaults, overridden by ``--config`` JSON, overridden by explicit options.

    Raises :class:`~training.config.ConfigError` for an unreadable JSON, a name that is no
    field, or a value that breaks a field's rules.
    """
    values = asdict(config_cls())
    if args.config:
        try:
            given = json.loads(args.config.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read --config {args.config}: {exc}") from None
        if not isinstance(given, dict):
            raise ConfigError(f"--config {args.config} must hold a JSON object")
        unknown = sorted(set(given) - set(values))
        if unknown:
            raise ConfigError(
                f"--config {args.config}: {', '.join(map(repr, unknown))} is not a {config_cls.__name__} field"
            )
        values.update(given)
    values.update(
        {f.name: getattr(args, f.name) for f in fields(config_cls) if getattr(args, f.name, None) is not None}
    )
    return config_cls(**values)
