"""training.device_run's plan: what each stage runs and with how much time (the run itself is
dry-run end to end in test_training_kit.py)."""

import json

import pytest

from training.device_run import DeviceRunError, Plan, run_plan


def _plan(tmp_path, **kw) -> Plan:
    kit = tmp_path / "kit"
    kit.mkdir(exist_ok=True)
    (kit / "pairs.jsonl").write_text(json.dumps({"query": "q", "positive": "p", "negatives": []}) + "\n")
    return Plan(kit, tmp_path / "out", tmp_path / "work", **kw)


def test_the_stages_share_the_minutes_in_order_of_value(tmp_path):
    plan = _plan(tmp_path, minutes=5.5)
    (plan.kit / "pairs-traces.jsonl").write_text("")
    stage1, per_step = plan.argv("stage1", "default")
    assert per_step == 128 and stage1[1:3] == ["-m", "training.sft"]
    assert ["--batch-size", "128"] == stage1[stage1.index("--batch-size"):][:2]
    assert stage1[stage1.index("--max-minutes") + 1] == "2.750" and "--fit-schedule" in stage1
    traces, _ = plan.argv("traces", str(tmp_path / "work" / "stage1" / "adapter"))
    assert traces[traces.index("--data") + 1].endswith("pairs-traces.jsonl")
    assert traces[traces.index("--init") + 1].endswith("stage1/adapter")
    assert traces[traces.index("--max-minutes") + 1] == "1.100"
    rl, per_step = plan.argv("rl", "x")
    assert rl[1:3] == ["-m", "training.rl"] and per_step == 16 * 8
    assert {"--over-plain", "--drop-flat", "--fit-schedule"} <= set(rl)
    assert rl[rl.index("--min-plain-rank") + 1] == "2" and rl[rl.index("--max-minutes") + 1] == "1.650"


def test_no_trace_targets_skips_that_stage_and_bad_input_is_refused(tmp_path):
    plan = _plan(tmp_path)
    assert plan.argv("traces", "default") is None
    with pytest.raises(DeviceRunError, match="add up to 1"):
        run_plan(_plan(tmp_path, shares=(0.5, 0.5, 0.5)))
    (plan.kit / "pairs.jsonl").unlink()
    with pytest.raises(DeviceRunError, match="no pairs in the kit"):
        run_plan(plan)
