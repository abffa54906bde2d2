"""Command-line options generated from a training config dataclass."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path


def add_config_args(ap: argparse.ArgumentParser, config_cls) -> None:
    """``--config FILE`` plus one ``--field-name`` option per dataclass field."""
    ap.add_argument("--config", type=Path, default=None, help=f"JSON with {config_cls.__name__} fields")
    for f in fields(config_cls):
        kind = type(f.default) if f.default is not None else str
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=None)


def config_from_args(args: argparse.Namespace, config_cls):
    """Defaults, overridden by ``--config`` JSON, overridden by explicit options."""
    values = asdict(config_cls())
    if args.config:
        values.update(json.loads(args.config.read_text()))
    values.update({f.name: getattr(args, f.name) for f in fields(config_cls) if getattr(args, f.name, None) is not None})
    return config_cls(**values)
