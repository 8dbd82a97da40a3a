#!/usr/bin/env bash
# Hub-wide breaker propagation benchmark (docs/gateway.md §4), figures for
# docs/performance.md. Starts a local space (a hub and 10 edges: 3 VN, 3 CN,
# 2 SG, 2 MY) with deploy/lib/space.sh, then RUNS times: trips route:VN>CN
# at the hub with `beibu breaker trip`, waits until every edge applied it,
# resets it, waits until every edge applied the reset. Each propagation time
# is taken from the daemons' own millisecond log timestamps: from the hub's
# event=hub_breaker_tripped (resp. event=hub_breaker_reset) to each edge's
# next event=hub_breakers_applied naming 1 (resp. 0) breakers; trips also from
# the breaker's tripped_at (the hub logs after it pushed). Prints a table (max
# and median over the edges, per run) and one line of JSON over all runs.
#
#   bench/breaker_bench.sh [--runs N] [--dir DIR]
#     --runs N   trip/reset rounds (default 5)
#     --dir DIR  where the space's files and logs go (default: a new /tmp dir)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BEIBU_BIN_DIR:-$root/build/bin}
runs=5
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --dir) work=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "breaker_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$work" ] || work=$(mktemp -d /tmp/beibu-breaker-bench.XXXXXX)
mkdir -p "$work" && cd "$work"
# shellcheck source=../deploy/lib/space.sh
source "$root/deploy/lib/space.sh"
trap space_stop EXIT

edges=(edge-vn1:VN edge-vn2:VN edge-vn3:VN edge-cn1:CN edge-cn2:CN edge-cn3:CN
       edge-sg1:SG edge-sg2:SG edge-my1:MY edge-my2:MY)
ids=()
space_init || { echo "breaker_bench: hub did not start" >&2; exit 1; }
for e in "${edges[@]}"; do
  space_edge "${e%%:*}" "${e##*:}" || { echo "breaker_bench: cannot add ${e%%:*}" >&2; exit 1; }
  ids+=("${e%%:*}")
done
space_wait_online "${#ids[@]}" || { echo "breaker_bench: edges not online" >&2; exit 1; }

scope='route:VN>CN'
# Byte sizes of every log now: what a round looks for comes after them.
mark() { for f in hub.log "${ids[@]/%/.log}"; do echo "$f $(stat -c %s "$f")"; done > "$1"; }
# Until every edge logged event=hub_breakers_applied count=$2 after the mark
# $1 (30 s).
wait_applied() {
  local file off missing
  for _ in $(seq 1 600); do
    missing=0
    while read -r file off; do
      [ "$file" = hub.log ] && continue
      # Not `tail | grep -q`: with pipefail, tail's SIGPIPE would count as a miss.
      grep -q "event=hub_breakers_applied count=$2\b" < <(tail -c +"$((off + 1))" "$file") \
        || missing=1
    done < "$1"
    [ "$missing" = 0 ] && return 0
    sleep 0.05
  done
  echo "breaker_bench: not every edge applied the hub's breakers (marks in $work/$1)" >&2
  return 1
}

for run in $(seq 1 "$runs"); do
  mark "trip-$run.mark"
  "$bin/beibu" breaker trip "${ops[@]}" --scope "$scope" --reason "breaker bench run $run" \
    --json > "trip-$run.json"
  wait_applied "trip-$run.mark" 1
  mark "reset-$run.mark"
  "$bin/beibu" breaker reset "${ops[@]}" --scope "$scope" --reason "breaker bench run $run done" \
    > "reset-$run.out"
  wait_applied "reset-$run.mark" 0
done

python3 - "$runs" <<'PY'
import datetime, json, statistics, sys

runs = int(sys.argv[1])

def parse_time(stamp):  # RFC 3339 UTC, any number of fraction digits
    stamp = stamp.rstrip("Z")
    whole, _, frac = stamp.partition(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() + float("0." + (frac or "0"))

def ts(line):
    return parse_time(line.split(" ", 1)[0])

def first_after(path, offset, needle):
    with open(path, "rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if needle in line:
                return ts(line)
    return None

def measure(mark, hub_event, applied, start=None):
    offsets = dict(l.split() for l in open(mark))
    hub = start if start is not None else first_after("hub.log", int(offsets["hub.log"]), hub_event)
    if hub is None:
        sys.exit(f"breaker_bench: no {hub_event} in hub.log after {mark}")
    delays = []
    for path, off in offsets.items():
        if path == "hub.log":
            continue
        t = first_after(path, int(off), applied)
        delays.append((t - hub) * 1000.0)
    return max(delays), statistics.median(delays)

# The hub logs hub_breaker_tripped after it pushed the new set, so an edge may
# log first (a delay <= 0): the trip is also measured from the breaker's
# tripped_at (`beibu breaker trip --json`), taken before the synced save and
# the push.
APPLIED = "event=hub_breakers_applied count={}\n"
rows = []
for run in range(1, runs + 1):
    tripped_at = parse_time(json.load(open(f"trip-{run}.json"))["tripped_at"])
    rows.append(measure(f"trip-{run}.mark", None, APPLIED.format(1), start=tripped_at)
                + measure(f"trip-{run}.mark", "event=hub_breaker_tripped", APPLIED.format(1))
                + measure(f"reset-{run}.mark", "event=hub_breaker_reset", APPLIED.format(0)))

cols = ["trip max", "trip med", "log max", "log med", "reset max", "reset med"]
print("\nhub-wide breaker route:VN>CN, 10 edges: time until every edge logged "
      "event=hub_breakers_applied (ms)")
print("  trip: from the breaker's tripped_at; log: from the hub's event=hub_breaker_tripped;")
print("  reset: from the hub's event=hub_breaker_reset (max and median over the 10 edges)")
print(f"{'run':>4} " + " ".join(f"{c:>9}" for c in cols))
for run, r in enumerate(rows, 1):
    print(f"{run:>4} " + " ".join(f"{v:>9.1f}" for v in r))
col = lambda i: [r[i] for r in rows]
print(json.dumps({
    "bench": "breaker", "edges": 10, "runs": runs,
    "trip_max_ms": round(max(col(0)), 1),
    "trip_median_of_max_ms": round(statistics.median(col(0)), 1),
    "trip_median_ms": round(statistics.median(col(1)), 1),
    "trip_from_hub_log_max_ms": round(max(col(2)), 1),
    "trip_from_hub_log_median_ms": round(statistics.median(col(3)), 1),
    "reset_max_ms": round(max(col(4)), 1),
    "reset_median_of_max_ms": round(statistics.median(col(4)), 1),
    "reset_median_ms": round(statistics.median(col(5)), 1),
}))
PY
