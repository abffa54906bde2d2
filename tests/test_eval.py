"""Evaluation harness: metrics against hand-computed values, BEIR loading, methods, CLI."""

import json
import math
import subprocess
import sys

import pytest

from searchr3.adapter import adapter_identity
from searchr3.config import BUNDLED_ADAPTERS
from searchr3.eval.beir import Dataset, DatasetError, load_beir, write_beir
from searchr3.eval.metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k
from searchr3.pydocs import python_doc_root


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


@pytest.mark.slow
@pytest.mark.parametrize("method", ["bm25", "minilm", "searchr3", "hybrid"])
def test_cli_methods_write_exact_metric_keys(tiny_dir, tmp_path, method):
    out = _eval_cli("--data", tiny_dir, "--method", method, "--json", tmp_path / "r.json")
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    metric_keys = [k for k in result if "@" in k]
    assert metric_keys == ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    assert result["recall@100"] == 1.0  # 5 documents: all retrieved
    assert result["timing"]["ms_per_query"] > 0
    if method in ("bm25", "minilm"):  # easy lexical/semantic matches
        assert result["mrr@10"] == 1.0
    if method in ("searchr3", "hybrid"):  # the shipped query adapter read the queries
        assert f"|queries={adapter_identity(BUNDLED_ADAPTERS / 'query')}" in result["run"]["model"]
    assert "ndcg@10" in out.stdout


@pytest.mark.slow
def test_cli_reasoning_records_traces(tiny_dir, tmp_path):
    out = _eval_cli(
        "--data", tiny_dir, "--method", "searchr3", "--reasoning", "--limit", 1, "--json", tmp_path / "r.json"
    )
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["run"]["reasoning"] and result["run"]["queries"] == 1
    assert list(result["traces"]) == ["q1"] and result["traces"]["q1"].strip()


@pytest.mark.slow
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
