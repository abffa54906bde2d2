"""Evaluation harness: metrics against hand-computed values, BEIR loading, methods, CLI."""

import json
import math
import subprocess
import sys

import pytest

from searchr3.config import BUNDLED_ADAPTERS
from searchr3.corpora.pydocs import python_doc_root
from searchr3.eval import compare
from searchr3.eval.beir import Dataset, DatasetError, load_beir, write_beir
from searchr3.eval.metrics import evaluate, mrr_at_k, ndcg_at_k, per_query, recall_at_k
from searchr3.eval.paired import paired_difference
from searchr3.eval.report import Row, paired_lines
from searchr3.model.adapter import adapter_identity


def test_metrics_by_hand():
    rel = {"d1": 1, "d3": 1}
    ranking = ["d2", "d1", "d3"]
    # DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(ranking, rel, 10) == pytest.approx((1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(ranking, rel, 1) == 0.0
    assert recall_at_k(ranking, rel, 10) == 1.0 and recall_at_k(ranking, rel, 2) == 0.5
    assert mrr_at_k(ranking, rel, 10) == 0.5 and mrr_at_k(ranking, rel, 1) == 0.0
    # graded: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    assert ndcg_at_k(["d2", "d1"], {"d1": 2, "d2": 1}, 10) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    )


def test_evaluate_averages_and_counts_missing_rankings_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    m = evaluate({"q1": ["a", "x"]}, qrels)
    assert m == {"ndcg@10": 0.5, "recall@10": 0.5, "recall@100": 0.5, "mrr@10": 0.5}
    assert list(m) == ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    assert per_query({"q1": ["a", "x"]}, qrels)["mrr@10"] == {"q1": 1.0, "q2": 0.0}


def test_paired_difference_by_hand():
    a = {f"q{i}": 0.5 for i in range(20)}
    same = paired_difference(a, dict(a))
    assert (same.delta, same.wins, same.losses, same.ties, same.ci_low, same.ci_high) == (0, 0, 0, 20, 0, 0)
    assert same.p == 1.0
    better = paired_difference(a, {q: v + 0.1 for q, v in a.items()} | {"only-b": 1.0})
    assert better.n == 20 and better.delta == pytest.approx(0.1) and (better.wins, better.losses) == (20, 0)
    assert better.ci_low == pytest.approx(0.1) and better.p < 0.001  # 20 same-sign differences: 2 / 2**20 exactly
    # one big win among 19 small losses: the mean moves up, but the interval holds 0
    mixed = paired_difference(a, {q: v + (0.95 if q == "q0" else -0.05) for q, v in a.items()})
    assert mixed.delta == pytest.approx(0.0) and (mixed.wins, mixed.losses) == (1, 19)
    assert mixed.ci_low < 0 < mixed.ci_high and mixed.p > 0.5
    with pytest.raises(ValueError, match="share no query"):
        paired_difference(a, {"other": 1.0})


def test_compare_cli_reads_per_query_scores(tmp_path, capsys):
    def run(name, shift):
        path = tmp_path / name
        scores = {f"q{i}": min(1.0, 0.3 + 0.02 * i + shift) for i in range(30)}
        path.write_text(json.dumps({"ndcg@10": 0, "per_query": {"ndcg@10": scores}}))
        return str(path)

    assert compare.main([run("a.json", 0), run("b.json", 0.05), "--samples", "2000"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "+0.0500" in out and "30/0/0" in out  # every query moved up by 0.05
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"ndcg@10": 0.5}))
    assert compare.main([run("a.json", 0), str(old)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {old} has no per-query ndcg@10: write it with "
                                               "python -m searchr3.eval --json")
    assert compare.main([str(tmp_path / "gone.json"), run("b.json", 0)]) == 2
    assert capsys.readouterr().err.strip() == f"error: no such file: {tmp_path / 'gone.json'}"
    assert compare.main([run("a.json", 0), run("b.json", 0), "--samples", "5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --samples must be at least 100, not 5"


def test_report_compares_rows_with_minilm_where_cells_hold_per_query_scores():
    def cell(shift):
        scores = {f"q{i}": 0.5 + (shift if i < 10 else 0.0) for i in range(40)}
        return {"ndcg@10": sum(scores.values()) / 40, "per_query": {"ndcg@10": scores}}

    minilm, new, old = Row("all-MiniLM-L6-v2", "minilm"), Row("new", "searchr3"), Row("old", "searchr3")
    results = {"pyfaq": [(minilm, cell(0)), (new, cell(0.2)), (old, {"ndcg@10": 0.9})], "perlfaq": [(minilm, None)]}
    lines = paired_lines(results)
    (row,) = [line.split(" | ") for line in lines if line.startswith("| new")]  # 10 of 40 questions up by 0.2
    assert row[1:3] == ["pyfaq", "+0.050"] and row[4] == "10 / 0 / 30"
    low, high = (float(x) for x in row[3].strip("[]").split(", "))
    assert 0.015 <= low < 0.05 < high <= 0.09
    assert float(row[5].rstrip(" |")) == pytest.approx(2 / 2**10, abs=0.002)  # all 10 must flip together
    assert not any(line.startswith("| old") for line in lines)  # stored before per-query scores
    assert paired_lines({"pyfaq": [(minilm, {"ndcg@10": 0.9}), (new, cell(0.2))]}) == []


TINY = Dataset(
    corpus={
        "d1": ("", "The Eiffel Tower is a wrought-iron lattice tower in Paris."),
        "d2": ("", "Photosynthesis converts light energy into chemical energy in plants."),
        "d3": ("", "The Python interpreter reads source code and executes bytecode."),
        "d4": ("", "Mount Everest is the highest mountain above sea level."),
        "d5": ("", "A violin has four strings tuned in perfect fifths."),
    },
    queries={
        "q1": "Which tower stands in Paris?",
        "q2": "How do plants turn light into energy?",
        "q3": "What is the highest mountain?",
    },
    qrels={"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d4": 1}},
)


@pytest.fixture
def tiny_dir(tmp_path):
    write_beir(tmp_path / "tiny", TINY)
    return tmp_path / "tiny"


def test_beir_round_trip(tiny_dir):
    data = load_beir(tiny_dir)
    assert data.corpus == TINY.corpus and data.queries == TINY.queries and data.qrels == TINY.qrels


def test_malformed_qrels_line_names_file_and_line(tiny_dir):
    path = tiny_dir / "qrels" / "test.tsv"
    path.write_text(path.read_text() + "q1 d2 1\n")  # spaces, not tabs
    with pytest.raises(DatasetError, match=r"test.tsv:5: expected 3 tab-separated fields"):
        load_beir(tiny_dir)


def test_bad_dataset_folders(tmp_path, tiny_dir):
    with pytest.raises(DatasetError, match="no such dataset folder"):
        load_beir(tmp_path / "missing")
    (tiny_dir / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n{not json}\n')
    with pytest.raises(DatasetError, match="corpus.jsonl:2: not JSON"):
        load_beir(tiny_dir)


def _eval_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "searchr3.eval", *map(str, args)], capture_output=True, text=True, timeout=600
    )


@pytest.mark.model
@pytest.mark.parametrize("method", ["bm25", "minilm", "mpnet", "searchr3", "hybrid"])
def test_cli_methods_write_exact_metric_keys(tiny_dir, tmp_path, method):
    out = _eval_cli("--data", tiny_dir, "--method", method, "--json", tmp_path / "r.json")
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    metric_keys = [k for k in result if "@" in k]
    assert metric_keys == ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    per = result["per_query"]
    assert set(per) == set(metric_keys) and all(set(per[k]) == {"q1", "q2", "q3"} for k in per)
    assert all(sum(per[k].values()) / 3 == pytest.approx(result[k]) for k in per)
    assert result["recall@100"] == 1.0  # 5 documents: all retrieved
    assert result["timing"]["ms_per_query"] > 0
    if method in ("bm25", "minilm", "mpnet"):  # easy lexical/semantic matches
        assert result["mrr@10"] == 1.0
    if method in ("searchr3", "hybrid"):  # the shipped query adapter read the queries
        assert f"|queries={adapter_identity(BUNDLED_ADAPTERS / 'query')}" in result["run"]["model"]
    assert "ndcg@10" in out.stdout


@pytest.mark.model
def test_cli_reasoning_records_traces(tiny_dir, tmp_path):
    out = _eval_cli(
        "--data", tiny_dir, "--method", "searchr3", "--reasoning", "--limit", 1, "--json", tmp_path / "r.json"
    )
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["run"]["reasoning"] and result["run"]["queries"] == 1
    assert list(result["traces"]) == ["q1"] and result["traces"]["q1"].strip()


@pytest.mark.model
def test_cli_errors_are_one_line(tmp_path, tiny_dir):
    out = _eval_cli("--data", tmp_path / "nothing", "--method", "bm25")
    assert out.returncode == 2 and out.stderr.strip() == f"error: no such dataset folder: {tmp_path / 'nothing'}"
    out = _eval_cli("--data", tiny_dir, "--method", "bm25", "--reasoning")
    assert out.returncode == 2 and "reasoning applies to searchr3 and hybrid" in out.stderr
    out = _eval_cli("--data", tiny_dir, "--method", "searchr3", "--query-adapter", tmp_path / "q")
    missing = tmp_path / "q"
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: adapter not found: {missing} has no adapter_config.json"


def _has_python_docs():
    try:
        python_doc_root()
        return True
    except Exception:
        return False


@pytest.mark.skipif(
    not _has_python_docs(), reason="python3-doc is not installed (scripts/setup.sh installs it as root)"
)
@pytest.mark.tiny  # starts a process
def test_pyfaq_builder(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "searchr3.eval.build", "pyfaq", str(tmp_path / "pyfaq")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = load_beir(tmp_path / "pyfaq")
    assert len(data.queries) > 150 and len(data.corpus) == len(data.queries)
    assert all(q.endswith("?") for q in data.queries.values())
    # the corpus holds answers only: no question text leaks into it
    assert all(not title for title, _ in data.corpus.values())
    q = "q:programming/how-do-i-share-global-variables-across-modules"
    (doc,) = data.qrels[q]
    assert "config" in data.corpus[doc][1] and data.queries[q] not in data.corpus[doc][1]
