#!/usr/bin/env bash
# Local model, side by side in one run: blogflow's engine against llama.cpp through
# llama-cpp-python (built from source here, so it is compiled for this CPU like blogflow),
# on the same GGUF, prompt, sampling, token count and thread count. Interleaved repetitions.
#
#   bash bench/local_model.sh                 # 3 repetitions of 3 runs, 200 tokens, 2 threads
#   REPS=5 TOKENS=400 THREADS=1 bash bench/local_model.sh
#
# The first run installs llama-cpp-python into $BENCH_DIR/venv (about 6 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/blogflow-bench}
REPS=${REPS:-3}
TOKENS=${TOKENS:-200}
THREADS=${THREADS:-2}
LLAMA_CPP_PYTHON=${LLAMA_CPP_PYTHON:-0.3.36}
mkdir -p "$BENCH_DIR"

if [ ! -x "$BENCH_DIR/venv/bin/python" ] || ! "$BENCH_DIR/venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "installing llama-cpp-python==$LLAMA_CPP_PYTHON from source into $BENCH_DIR/venv" >&2
  python3 -m venv "$BENCH_DIR/venv"
  "$BENCH_DIR/venv/bin/pip" install -q --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_PYTHON"
fi
cargo build --release -q
BIN=target/release/blogflow
MODEL=$($BIN model fetch | cut -d' ' -f1)
PROMPT="$BENCH_DIR/prompt.txt"
$BIN bench print-local-prompt > "$PROMPT"

: > "$BENCH_DIR/results.jsonl"
for rep in $(seq 1 "$REPS"); do
  $BIN bench local-model --model "$MODEL" --tokens "$TOKENS" --threads "$THREADS" --runs 3 --json >> "$BENCH_DIR/results.jsonl"
  "$BENCH_DIR/venv/bin/python" bench/llama_cpp_python.py "$MODEL" "$PROMPT" "$TOKENS" "$THREADS" 3 >> "$BENCH_DIR/results.jsonl"
done

python3 - "$BENCH_DIR/results.jsonl" "$TOKENS" "$THREADS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
engines = sorted({r["engine"] for r in rows}, key=lambda e: e != "blogflow")
def med(engine, key):
    vals = [r[key] for r in rows if r["engine"] == engine]
    return statistics.median(vals), min(vals), max(vals)
print(f"local model, {sys.argv[2]} generated tokens, {sys.argv[3]} threads, median (min-max) of {len(rows)//2} runs per engine")
print(f"{'engine':<30} {'load ms':>8} {'prompt tok/s':>22} {'gen tok/s':>22} {'peak RSS MiB':>13}")
for e in engines:
    l = med(e, "load_ms"); p = med(e, "prompt_tok_s"); g = med(e, "gen_tok_s"); m = med(e, "peak_rss_mib")
    print(f"{e:<30} {l[0]:>8.0f} {p[0]:>8.1f} ({p[1]:.0f}-{p[2]:.0f}) {g[0]:>8.1f} ({g[1]:.0f}-{g[2]:.0f}) {m[2]:>13.1f}")
b, r = engines
print(f"ratio blogflow / llama.cpp: prompt {med(b,'prompt_tok_s')[0]/med(r,'prompt_tok_s')[0]:.2f}x, generation {med(b,'gen_tok_s')[0]/med(r,'gen_tok_s')[0]:.2f}x (target >= 0.8x)")
PY
