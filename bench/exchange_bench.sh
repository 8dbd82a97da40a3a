#!/usr/bin/env bash
# End-to-end exchange benchmark (issue 5), figures for docs/performance.md.
# Starts a local space (hub, edge-vn, edge-sg) with every security feature and
# durable audit on, and in the same run a plain gRPC relay of three processes
# as the baseline, then measures:
#   1. maximum throughput of 1 KiB messages VN -> hub -> SG (SendBatches and
#      InboxBatches: one stream each, ready messages packed; also SendMany,
#      one stream message per transfer) vs the plain relay (64 concurrent
#      unary calls, one per hop)
#   2. latency p50/p99 at a fixed 1,000 msg/s, both systems
#   3. bulk: one file sent with `beibu send-file` and received with
#      `beibu inbox --out`, MiB/s vs one core's raw SM4-CTR in the same run
#
#   bench/exchange_bench.sh [--count N] [--bulk-mib M] [--dir DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BEIBU_BIN_DIR:-$root/build/bin}
count=20000
bulk_mib=256
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --bulk-mib) bulk_mib=$2; shift ;;
    --dir) work=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "exchange_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$work" ] || work=$(mktemp -d /tmp/beibu-bench.XXXXXX)
mkdir -p "$work" && cd "$work"
# shellcheck source=../deploy/lib/space.sh
source "$root/deploy/lib/space.sh"
trap space_stop EXIT

space_init || { echo "hub did not start" >&2; exit 1; }
space_edge edge-vn VN && space_edge edge-sg SG
space_wait_online 2 || { echo "edges not online" >&2; exit 1; }
space_enroll vn-shipper enterprise VN && space_enroll sg-consignee enterprise SG
vn=$(space_edge_addr edge-vn); sg=$(space_edge_addr edge-sg)
load=("$bin/exchange_load" beibu --send-server "$vn" --send-identity vn-shipper
      --recv-server "$sg" --recv-identity sg-consignee --to SG --to-enterprise sg-consignee)
# The first send waits for the edges to have exchanged epoch keys.
for _ in $(seq 1 100); do "${load[@]}" --count 1 > /dev/null 2>&1 && break; sleep 0.2; done

# Each measurement starts from a quiet space: a run ends when its messages
# arrived, but their notices (one relay item per message back to the source,
# two when the recipient acknowledged after the DELIVERED notice's 250 ms
# hold) and the audit appends may still be flowing.
# Waits (at most 60 s) until the daemons used under 2 % of a core for 1 s.
wait_idle() {
  local ticks before after
  ticks() { for p in "${space_pids[@]}"; do awk '{s += $14 + $15} END {print s}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
  for _ in $(seq 1 60); do
    before=$(ticks); sleep 1; after=$(ticks)
    [ $((after - before)) -le 2 ] && return 0
  done
  echo "exchange_bench: the space did not become idle" >&2
}

echo "== 1 KiB messages, maximum throughput ($count messages)"
wait_idle
"${load[@]}" --count "$count" | tee beibu-max.json
# The same with one stream message per transfer (SendMany / Inbox), to show
# what packing ready messages (SendBatches / InboxBatches) brings.
wait_idle
"${load[@]}" --count "$count" --batch 1 | tee beibu-max-unbatched.json
"$bin/exchange_load" plain --count "$count" | tee plain-max.json
echo "== 1 KiB messages at 1,000 msg/s (10 s)"
wait_idle
"${load[@]}" --count 10000 --rate 1000 | tee beibu-1000.json
"$bin/exchange_load" plain --count 10000 --rate 1000 | tee plain-1000.json

wait_idle
echo "== bulk: ${bulk_mib} MiB file VN -> SG"
"$bin/exchange_load" sm4 --mib "$bulk_mib" | tee sm4.json
head -c $((bulk_mib << 20)) /dev/zero | tr '\0' 'a' > bulk.bin
mkdir -p received
start=$(date +%s.%N)
"$bin/beibu" send-file bulk.bin --server "$vn" --identity vn-shipper --to SG \
  --to-enterprise sg-consignee --category logistics.track --content-type application/octet-stream > /dev/null
for _ in $(seq 1 3000); do
  "$bin/beibu" inbox --server "$sg" --identity sg-consignee --out received --ack > /dev/null 2>&1 || true
  [ -n "$(ls received)" ] && break
  sleep 0.1
done
end=$(date +%s.%N)
size=$(stat -c %s received/* 2>/dev/null | head -1)
[ "$size" = $((bulk_mib << 20)) ] || { echo "bulk transfer incomplete ($size bytes)" >&2; exit 1; }
python3 - "$start" "$end" "$bulk_mib" <<'PY'
import json, sys
start, end, mib = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sm4 = json.load(open("sm4.json"))["mib_per_s"]
bulk = mib / (end - start)
bm, pm = json.load(open("beibu-max.json")), json.load(open("plain-max.json"))
bu = json.load(open("beibu-max-unbatched.json"))
b1, p1 = json.load(open("beibu-1000.json")), json.load(open("plain-1000.json"))
print(f"\nthroughput  beibu {bm['msg_per_s']:.0f} msg/s  plain relay {pm['msg_per_s']:.0f} msg/s  "
      f"ratio {bm['msg_per_s']/pm['msg_per_s']:.2f}  (unbatched SendMany {bu['msg_per_s']:.0f} msg/s)")
print(f"at 1000/s   beibu p50 {b1['p50_ms']:.1f} ms p99 {b1['p99_ms']:.1f} ms   "
      f"plain p50 {p1['p50_ms']:.1f} ms p99 {p1['p99_ms']:.1f} ms")
print(f"bulk        {bulk:.1f} MiB/s end to end, raw SM4-CTR {sm4:.1f} MiB/s, ratio {bulk/sm4:.2f}")
PY
