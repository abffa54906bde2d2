"""Training configs and the options generated from them (no model is loaded)."""

import json
import re
from dataclasses import dataclass, fields

import pytest

from training import query, rl, sft
from training.cli import parse_args
from training.config import ConfigError, RLConfig, SFTConfig, TrainingConfig, option
from training.inputs import adapter_option
from training.options import config_from_args


def _help(capsys, stage) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(stage, ["--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


@pytest.mark.parametrize("stage", [sft.STAGE, rl.STAGE, query.STAGE], ids=["sft", "rl", "query"])
def test_help_describes_every_option(capsys, stage):
    text = _help(capsys, stage)
    for f in fields(stage.config_cls):
        flag = "--" + f.name.replace("_", "-")
        assert f.metadata.get("help"), f"{f.name} has no help text"
        assert flag in text, flag
        assert " ".join(f.metadata["help"].split()) in text, f.name
        assert f"(default: {f.default})" in text
    for flag in ("--data", "--out", "--resume", "--config"):
        assert flag in text


def test_shared_fields_live_in_the_base_and_rl_keeps_their_help():
    base = {f.name: f for f in fields(TrainingConfig)}
    for cls in (SFTConfig, RLConfig):
        own = {f.name: f for f in fields(cls)}
        assert set(base) <= set(own)
        for name in base:
            assert own[name].metadata == base[name].metadata  # one help text and rule per field
    assert RLConfig().lr == 2e-5 and SFTConfig().lr == 2e-4  # each stage its own default
    assert "max_doc_tokens" not in {f.name for f in fields(RLConfig)} | {f.name for f in fields(SFTConfig)}


@dataclass
class WithFlag(TrainingConfig):
    """a config with a boolean"""

    drop_flat: bool = option(False, "a yes/no knob")


def test_bool_fields_parse_both_ways():
    stage = sft.STAGE.__class__(**{**sft.STAGE.__dict__, "config_cls": WithFlag})
    base = ["--data", "p.jsonl", "--out", "o"]
    assert parse_args(stage, base)[1].drop_flat is False
    assert parse_args(stage, base + ["--drop-flat"])[1].drop_flat is True
    assert parse_args(stage, base + ["--no-drop-flat"])[1].drop_flat is False


@pytest.mark.parametrize("changes, message", [
    ({"steps": 0}, "--steps must be at least 1, not 0"),
    ({"lr": 0.0}, "--lr must be greater than 0, not 0.0"),
    ({"mixed_precision": "fp8"}, "--mixed-precision must be 'auto', 'no', 'bf16' or 'fp16', not 'fp8'"),
    ({"batch_size": 1}, "--batch-size must be at least 2, not 1 (InfoNCE needs in-batch negatives)"),
    ({"w_nce": 0.0, "w_triplet": 0.0}, "nothing would train the read-out"),
])
def test_sft_bad_values_say_what_to_change(changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        SFTConfig(**changes)


@pytest.mark.parametrize("changes, message", [
    ({"group": 1}, "--group must be at least 2, not 1 (GRPO compares the rollouts of one query)"),
    ({"clip": 1.5}, "--clip must be greater than 0 and less than 1, not 1.5"),
    ({"top_p": 0.0}, "--top-p must be greater than 0 and at most 1, not 0.0"),
    ({"reward": "ndcg"}, "--reward must be 'rank' or 'softmax', not 'ndcg'"),
])
def test_rl_bad_values_say_what_to_change(changes, message):
    with pytest.raises(ConfigError) as info:
        RLConfig(**changes)
    assert str(info.value) == message


def test_config_file_then_options(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"steps": 7, "lr": 1e-3, "max_document_tokens": 99}))
    args, config = parse_args(sft.STAGE, ["--data", "p", "--out", "o", "--config", str(path), "--lr", "5e-4"])
    assert (config.steps, config.lr, config.max_document_tokens) == (7, 5e-4, 99)
    path.write_text(json.dumps({"max_doc_tokens": 99}))
    with pytest.raises(ConfigError, match="'max_doc_tokens' is not a SFTConfig field"):
        config_from_args(args, SFTConfig)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        config_from_args(args, SFTConfig)


def test_cli_bad_value_is_one_line_exit_2(capsys):
    assert sft.main(["--data", "missing.jsonl", "--out", "o", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --steps must be at least 1, not 0\n"


def test_adapter_options_resolve_or_fail_in_one_line(tmp_path):
    from searchr3.config import BUNDLED_ADAPTERS, DEFAULT_MODEL

    assert adapter_option(DEFAULT_MODEL, "--init", "default") == BUNDLED_ADAPTERS / "sft"
    with pytest.raises(ConfigError, match=r"^--init 'default' names no adapter for /other/model; RL needs one$"):
        adapter_option("/other/model", "--init", "default", "RL needs one")
    with pytest.raises(ConfigError, match=r"^--init None names no adapter for "):
        adapter_option(DEFAULT_MODEL, "--init", None)
    with pytest.raises(ConfigError, match=f"^--documents '{tmp_path}': adapter not found: {tmp_path} has no "):
        adapter_option(DEFAULT_MODEL, "--documents", str(tmp_path))
