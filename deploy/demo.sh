#!/usr/bin/env bash
# The Beibu demo: a local space on loopback — a hub (Nanning) and edges in
# China, Vietnam, Singapore and Malaysia — set up from nothing with the real
# binaries, then checked step by step. Exits 0 only if every step behaved.
#
#   deploy/demo.sh                  run, show, stop cleanly
#   deploy/demo.sh --keep-running   leave the space up (Ctrl-C stops it)
#   deploy/demo.sh --dir DIR        keep the space's files in DIR
#
# Needs an existing build (deploy/build.sh); BEIBU_BIN_DIR overrides build/bin.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BEIBU_BIN_DIR:-$root/build/bin}
keep_running=0
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keep-running) keep_running=1 ;;
    --dir) work=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for b in beibu beibu-hub beibu-edge; do
  [ -x "$bin/$b" ] || { echo "demo: $bin/$b missing: build first with deploy/build.sh" >&2; exit 2; }
done
if [ -z "$work" ]; then work=$(mktemp -d /tmp/beibu-demo.XXXXXX); fi
mkdir -p "$work"
cd "$work"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

step=0
say() { step=$((step + 1)); printf '\n[%d] %s\n' "$step" "$*"; }
fail() { printf '\nDEMO FAILED: %s\n(files and logs in %s)\n' "$*" "$work" >&2; exit 1; }
wait_for_file() {  # path, seconds
  for _ in $(seq 1 $(($2 * 20))); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}

say "Create the space's certificate authority (SM2 root, hub and operator identities)"
"$bin/beibu" pki init --dir pki --country CN > pki-init.txt || fail "beibu pki init"
grep -E 'ca-fingerprint' pki-init.txt

say "Start the hub in Nanning"
cat > hub.yaml <<YAML
listen: 127.0.0.1:0
data_dir: $work/hub-data
pki_dir: $work/pki
heartbeat_timeout_ms: 3000
YAML
"$bin/beibu-hub" --config hub.yaml --port-file hub.port > hub.log 2>&1 &
pids+=($!)
wait_for_file hub.port 10 || fail "the hub did not start (see hub.log)"
hub="127.0.0.1:$(cat hub.port)"
ops=(--server "$hub" --key pki/operator.key --cert pki/operator.crt --trust pki/trust-bundle.pem)
echo "hub listening on $hub"

edges=(edge-cn:CN edge-vn:VN edge-sg:SG edge-my:MY)
say "Issue one-time join tokens and start the edges: ${edges[*]}"
for e in "${edges[@]}"; do
  id=${e%%:*}; cc=${e##*:}
  token=$("$bin/beibu" pki token create "${ops[@]}" --id "$id" --role edge --country "$cc" 2>/dev/null) \
    || fail "token for $id"
  cat > "$id.yaml" <<YAML
node_id: $id
listen: 127.0.0.1:0
hub: $hub
data_dir: $work/$id
join_token: $token
heartbeat_interval_ms: 500
YAML
  "$bin/beibu-edge" --config "$id.yaml" --port-file "$id.port" > "$id.log" 2>&1 &
  pids+=($!)
  echo "started $id ($cc)"
done

say "Wait until every edge has enrolled and its heartbeat reaches the hub"
online=0
for _ in $(seq 1 100); do
  online=$("$bin/beibu" nodes "${ops[@]}" 2>/dev/null | grep -c ' online ' || true)
  [ "$online" -eq ${#edges[@]} ] && break
  sleep 0.2
done
[ "$online" -eq ${#edges[@]} ] || { "$bin/beibu" nodes "${ops[@]}" || true; fail "only $online of ${#edges[@]} edges online"; }
"$bin/beibu" nodes "${ops[@]}"

say "An enterprise in Vietnam enrols and talks to its edge over the SM2/SM4 secure channel"
token=$("$bin/beibu" pki token create "${ops[@]}" --id vn-logistics --role enterprise --country VN 2>/dev/null)
"$bin/beibu" enroll --hub "$hub" --token "$token" --out vn-logistics --id vn-logistics || fail "enrolment"
"$bin/beibu" node info --server "127.0.0.1:$(cat edge-vn.port)" --identity vn-logistics || fail "node info"

say "A used join token is refused"
if "$bin/beibu" enroll --hub "$hub" --token "$token" --out thief 2> reuse.err; then
  fail "a join token was accepted twice"
fi
echo "refused as expected: $(cat reuse.err)"

say "Edge MY is killed (kill -9) and restarted: it reconnects without enrolling again"
my_pid=${pids[4]}
kill -9 "$my_pid"; wait "$my_pid" 2>/dev/null || true
gone=0
for _ in $(seq 1 100); do
  if "$bin/beibu" nodes "${ops[@]}" 2>/dev/null | grep -E '^edge-my ' | grep -q ' offline '; then gone=1; break; fi
  sleep 0.1
done
[ $gone -eq 1 ] || fail "the hub did not notice edge-my going away"
echo "the hub sees edge-my offline"
sed -i '/^join_token:/d' edge-my.yaml
"$bin/beibu-edge" --config edge-my.yaml --port-file edge-my.port >> edge-my.log 2>&1 &
pids[4]=$!
ok=0
for _ in $(seq 1 100); do
  if "$bin/beibu" nodes "${ops[@]}" 2>/dev/null | grep -E '^edge-my ' | grep -q ' online '; then ok=1; break; fi
  sleep 0.2
done
[ $ok -eq 1 ] || fail "edge-my did not come back"
[ "$(grep -c 'event=enrolling' edge-my.log)" -eq 1 ] || fail "edge-my enrolled twice"
echo "edge-my is back online with its original certificate"

say "The operator revokes the Vietnamese enterprise: the CRL reaches the edges, which refuse it"
"$bin/beibu" pki revoke "${ops[@]}" --node vn-logistics
refused=0
for _ in $(seq 1 50); do
  if ! "$bin/beibu" node info --server "127.0.0.1:$(cat edge-vn.port)" --identity vn-logistics > /dev/null 2> revoked.err; then
    refused=1; break
  fi
  sleep 0.2
done
[ $refused -eq 1 ] || fail "edge-vn still accepts a revoked certificate"
echo "edge-vn refused it: $(cat revoked.err)"

say "An e-contract is notarized in Malaysia (only its SM3 digest leaves) and verified in China"
token=$("$bin/beibu" pki token create "${ops[@]}" --id my-palm-oil --role enterprise --country MY 2>/dev/null)
"$bin/beibu" enroll --hub "$hub" --token "$token" --out my-palm-oil --id my-palm-oil > /dev/null || fail "enrolment in MY"
token=$("$bin/beibu" pki token create "${ops[@]}" --id cn-foods --role enterprise --country CN 2>/dev/null)
"$bin/beibu" enroll --hub "$hub" --token "$token" --out cn-foods --id cn-foods > /dev/null || fail "enrolment in CN"
echo "Sale of 500 t of palm oil, FOB Port Klang, USD 412,500." > contract.txt
"$bin/beibu" notarize contract.txt --server "127.0.0.1:$(cat edge-my.port)" --identity my-palm-oil \
  --type e_contract --party cn-foods --wait 20 || fail "notarization"
"$bin/beibu" verify contract.txt.receipt.json contract.txt --trust pki/trust-bundle.pem || fail "offline verification"
"$bin/beibu" verify contract.txt.receipt.json contract.txt --server "127.0.0.1:$(cat edge-cn.port)" \
  --identity cn-foods || fail "verification at edge-cn"
echo "Sale of 500 t of palm oil, FOB Port Klang, USD 41,250." > altered.txt
if "$bin/beibu" verify contract.txt.receipt.json altered.txt --trust pki/trust-bundle.pem 2> altered.err; then
  fail "an altered contract verified"
fi
echo "an altered contract is refused: $(cat altered.err)"

say "Vietnam's regulator reads the hub's audit trail: Vietnamese events only"
token=$("$bin/beibu" pki token create "${ops[@]}" --id vn-mps --role regulator --country VN 2>/dev/null)
"$bin/beibu" enroll --hub "$hub" --token "$token" --out vn-mps --id vn-mps > /dev/null || fail "regulator enrolment"
"$bin/beibu" audit query --server "$hub" --identity vn-mps --limit 8 || fail "audit query"
if "$bin/beibu" audit query --json --server "$hub" --identity vn-mps | grep -q 'edge-sg'; then
  fail "the VN regulator saw a Singaporean event"
fi

say "Done: every step behaved"
echo "files and logs: $work"
if [ $keep_running -eq 1 ]; then
  echo "the space keeps running; try:  $bin/beibu nodes ${ops[*]}"
  echo "press Ctrl-C to stop"
  trap 'stop_all; exit 0' INT TERM
  while true; do sleep 3600; done
fi
