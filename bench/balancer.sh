#!/usr/bin/env bash
# What the LLM balancer adds to a call, side by side with LiteLLM's Router, in one run.
#
# Builds and starts the reference mock upstream (../shared/bench/litellm/mock) on $PORT, then
# per repetition and concurrency runs `blogflow bench balancer` (direct reqwest call vs
# balancer over 3 deployments) and the reference's own litellm_bench.py (aiohttp direct vs
# Router simple-shuffle over the same 3 deployments), and prints the added latency and CPU.
#   REPS=3 N=2000 CONCS="1 10 50" bash bench/balancer.sh
# Needs the reference's Python venv with litellm (WORK, default /tmp/litellm-anchor; its
# run_all.sh creates it) or creates it here.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REF="${LITELLM_BENCH:-$ROOT/../shared/bench/litellm}"
WORK="${WORK:-/tmp/litellm-anchor}"
PORT="${PORT:-18080}"
REPS="${REPS:-3}"
N="${N:-2000}"
CONCS="${CONCS:-1 10 50}"
OUT="${OUT:-$(mktemp -d /tmp/blogflow-vs-litellm.XXXXXX)}"
PY="$WORK/venv/bin/python"
[ -f "$REF/litellm_bench.py" ] || { echo "LiteLLM reference not found at $REF" >&2; exit 1; }
if [ ! -x "$PY" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q "litellm[proxy]==1.108.7" aiohttp httpx
fi
(cd "$ROOT" && cargo build --release --quiet)
CARGO_TARGET_DIR="$WORK/mock-target" cargo build -q --release --manifest-path "$REF/mock/Cargo.toml"
"$WORK/mock-target/release/mock-upstream" --port "$PORT" > "$OUT/mock.log" 2>&1 &
MOCK_PID=$!
trap 'kill $MOCK_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
export MOCK_URL="http://127.0.0.1:$PORT" LITELLM_LOCAL_MODEL_COST_MAP=True
: > "$OUT/ours.jsonl"; : > "$OUT/ref.jsonl"
for rep in $(seq "$REPS"); do
  for c in $CONCS; do
    echo "rep $rep, concurrency $c" >&2
    "$ROOT/target/release/blogflow" bench balancer --upstream "$MOCK_URL" --requests "$N" \
      --concurrency "$c" >> "$OUT/ours.jsonl"
    for client in aiohttp router; do
      "$PY" "$REF/litellm_bench.py" --client "$client" --concurrency "$c" --requests "$N" \
        >> "$OUT/ref.jsonl" 2>> "$OUT/ref.stderr"
    done
  done
done
python3 - "$OUT/ours.jsonl" "$OUT/ref.jsonl" <<'PY'
import json, statistics, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ref = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
med = statistics.median
print("| concurrency | | added p50 ms | added p99 ms | added CPU ms/req | peak RSS MiB |")
print("|---|---|---|---|---|---|")
for c in sorted({o["concurrency"] for o in ours}):
    o = [r for r in ours if r["concurrency"] == c]
    direct = [r for r in ref if r["concurrency"] == c and r["client"] == "aiohttp"]
    router = [r for r in ref if r["concurrency"] == c and r["client"] == "router"]
    a = {k: med([r[f"added_{k}"] for r in o]) for k in ("p50_ms", "p99_ms", "cpu_ms_per_req")}
    b = {k: med([r[k] for r in router]) - med([r[k] for r in direct]) for k in ("p50_ms", "p99_ms", "cpu_ms_per_req")}
    rss_a = med([r["balanced"]["peak_rss_mib"] for r in o])
    rss_b = med([r["peak_rss_mb"] for r in router])
    print(f"| {c} | blogflow balancer | {a['p50_ms']:.3f} | {a['p99_ms']:.3f} | {a['cpu_ms_per_req']:.3f} | {rss_a:.1f} |")
    print(f"| {c} | LiteLLM Router | {b['p50_ms']:.3f} | {b['p99_ms']:.3f} | {b['cpu_ms_per_req']:.3f} | {rss_b:.1f} |")
    if a["cpu_ms_per_req"] > 0:
        print(f"| {c} | ratio (CPU) | | | {b['cpu_ms_per_req'] / a['cpu_ms_per_req']:.0f}x less | |")
print(f"\nmedian of {len(ours) // max(1, len({o['concurrency'] for o in ours}))} runs; added = client minus its direct baseline in the same run")
PY
echo "raw results in $OUT" >&2
