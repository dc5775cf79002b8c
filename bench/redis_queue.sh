#!/usr/bin/env bash
# blogflow's Redis queue and Node BullMQ, side by side, in one run on one machine.
#
# Runs `blogflow bench redis-queue` against a private Redis on $PORT (6391, no persistence,
# like the reference), then the BullMQ reference benchmark (../shared/bench/bullmq/run.sh,
# which starts its own Redis on 6390) restricted to the same workloads, and prints one table
# with the ratios. Completed jobs are kept in both (BullMQ's "keep" cases).
#   REPS=3 OUT=/tmp/cmp bash bench/redis_queue.sh
#   ONLY=drain REPS=3 bash bench/redis_queue.sh      # the drain cases only, both sides
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REF="${BULLMQ_BENCH:-$ROOT/../shared/bench/bullmq}"
PORT="${PORT:-6391}"
REPS="${REPS:-3}"
OUT="${OUT:-$(mktemp -d /tmp/blogflow-vs-bullmq.XXXXXX)}"
mkdir -p "$OUT"
[ -f "$REF/run.sh" ] || { echo "BullMQ reference benchmark not found at $REF (set BULLMQ_BENCH)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is required" >&2; exit 1; }

(cd "$ROOT" && cargo build --release --quiet)
if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
  echo "something already answers on port $PORT; refusing to use it" >&2; exit 1
fi
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$OUT/redis.pid" --dir "$OUT" --logfile "$OUT/redis.log"
stop_redis() { [ -s "$OUT/redis.pid" ] && kill "$(cat "$OUT/redis.pid")" 2>/dev/null || true; }
trap stop_redis EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "== blogflow (Rust, Redis on $PORT) ==" >&2
"$ROOT/target/release/blogflow" bench redis-queue --url "redis://127.0.0.1:$PORT" \
  --reps "$REPS" ${ONLY:+--only "$ONLY"} --json | tee "$OUT/blogflow.txt"
stop_redis

echo "== Node BullMQ reference ==" >&2
case "${ONLY:-}" in
  drain) NODE_ONLY='^b-c(1|10|50)-keep$' ;;
  *) NODE_ONLY='^(a2|a3|b-c(1|10|50)-keep|c)$' ;;
esac
BENCH_DIR="$OUT/bullmq" REPS="$REPS" ONLY="$NODE_ONLY" bash "$REF/run.sh" >&2

python3 - "$OUT/blogflow.txt" "$OUT/bullmq/results.json" <<'PY'
import json, os, statistics, sys
ours_runs = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
ref = json.load(open(sys.argv[2]))
def ours(case, field):
    xs = [r["result"][field] for r in ours_runs if r["case"] == case and field in r["result"]]
    return statistics.median(xs) if xs else None
def theirs(case, field):
    return ref["summary"].get(case, {}).get(field, {}).get("median")
rows = [
    ("enqueue: add x10k sequential (jobs/s)", ours("enqueue-1", "rate"), theirs("a2", "rate"), "higher"),
    ("enqueue: add x10k, 50 in flight (jobs/s)", ours("enqueue-50", "rate"), theirs("a3", "rate"), "higher"),
]
for c in (1, 10, 50):
    rows.append((f"drain 50k no-op, concurrency {c} (jobs/s)", ours(f"drain-c{c}", "rate"), theirs(f"b-c{c}-keep", "rateFirstToLast"), "higher"))
    rows.append((f"  worker peak RSS, concurrency {c} (MiB)", ours(f"drain-c{c}", "peak_rss_mib"), theirs(f"b-c{c}-keep", "maxRssMB"), "lower"))
    rows.append((f"  worker CPU, concurrency {c} (s)", ours(f"drain-c{c}", "worker_cpu_secs"), theirs(f"b-c{c}-keep", "workerCpuSecs"), "lower"))
for p, f in (("p50", "startP50"), ("p99", "startP99")):
    rows.append((f"latency add -> start {p}, 200/s, c=10 (ms)", ours("latency", f"{p}_ms"), theirs("c", f), "lower"))
print(f"\nmedian of {os.environ.get('REPS', '3')} reps each; ratio = how many times better blogflow is")
print("| case | blogflow | BullMQ (Node) | ratio |")
print("|---|---|---|---|")
for name, a, b, better in rows:
    if a is None or b is None:
        continue
    ratio = a / b if better == "higher" else b / a
    print(f"| {name} | {a:,.1f} | {b:,.1f} | {ratio:.2f}x |")
PY
echo "raw results in $OUT" >&2
