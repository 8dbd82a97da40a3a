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

# shellcheck source=lib/space.sh
source "$root/deploy/lib/space.sh"
trap space_stop EXIT

step=0
say() { step=$((step + 1)); printf '\n[%d] %s\n' "$step" "$*"; }
fail() { printf '\nDEMO FAILED: %s\n(files and logs in %s)\n' "$*" "$work" >&2; exit 1; }

say "Create the space's certificate authority (SM2 root, hub and operator identities) and start the hub in Nanning"
space_init || fail "the hub did not start (see pki-init.txt, hub.log)"
grep -E 'ca-fingerprint' pki-init.txt
echo "hub listening on $hub"

edges=(edge-cn:CN edge-vn:VN edge-sg:SG edge-my:MY)
# edge-vn's gateway (docs/gateway.md) is tuned so that the demo's scraper is
# caught after 8 recipients and its breaker cools down in 3 s.
vn_gateway='gateway:
  detectors: {distinct_recipients: 8, scraping_window_ms: 60000}
  breaker: {cool_down_ms: 3000, probe_budget: 1}'
say "Issue one-time join tokens and start the edges: ${edges[*]}"
for e in "${edges[@]}"; do
  id=${e%%:*}; cc=${e##*:}
  extra=""; [ "$id" = edge-vn ] && extra=$vn_gateway
  space_edge "$id" "$cc" "$extra" || fail "starting $id"
  echo "started $id ($cc)"
done

say "Wait until every edge has enrolled and its heartbeat reaches the hub"
space_wait_online ${#edges[@]} || { "$bin/beibu" nodes "${ops[@]}" || true; fail "not all ${#edges[@]} edges came online"; }
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
my_pid=${space_pids[4]}
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
space_pids[4]=$!
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

say "An e-contract and a certificate of origin are notarized in Malaysia (only their SM3 digests leave) and verified in China"
space_enroll my-palm-oil enterprise MY || fail "enrolment in MY"
space_enroll cn-foods enterprise CN || fail "enrolment in CN"
echo "Sale of 500 t of palm oil, FOB Port Klang, USD 412,500." > contract.txt
"$bin/beibu" notarize contract.txt --server "127.0.0.1:$(cat edge-my.port)" --identity my-palm-oil \
  --type e_contract --party cn-foods --wait 20 || fail "notarization"
"$bin/beibu" verify contract.txt.receipt.json contract.txt --trust pki/trust-bundle.pem || fail "offline verification"
"$bin/beibu" verify contract.txt.receipt.json contract.txt --server "127.0.0.1:$(cat edge-cn.port)" \
  --identity cn-foods || fail "verification at edge-cn"
printf 'Certificate of origin, ASEAN-China FTA Form E\nGoods: crude palm oil, HS 1511.10, 500 t\nOrigin: Malaysia\n' > origin.txt
"$bin/beibu" notarize origin.txt --server "127.0.0.1:$(cat edge-my.port)" --identity my-palm-oil \
  --type certificate_of_origin --party cn-foods --wait 20 > /dev/null || fail "notarizing the certificate of origin"
"$bin/beibu" verify origin.txt.receipt.json origin.txt --server "127.0.0.1:$(cat edge-cn.port)" \
  --identity cn-foods || fail "verifying the certificate of origin at edge-cn"
echo "Sale of 500 t of palm oil, FOB Port Klang, USD 41,250." > altered.txt
if "$bin/beibu" verify contract.txt.receipt.json altered.txt --trust pki/trust-bundle.pem 2> altered.err; then
  fail "an altered contract verified"
fi
echo "an altered contract is refused: $(cat altered.err)"

say "Vietnam's regulator reads the hub's audit trail: Vietnamese events only"
space_enroll vn-mps regulator VN || fail "regulator enrolment"
"$bin/beibu" audit query --server "$hub" --identity vn-mps --limit 8 || fail "audit query"
if "$bin/beibu" audit query --json --server "$hub" --identity vn-mps | grep -q 'edge-sg'; then
  fail "the VN regulator saw a Singaporean event"
fi

say "Logistics tracks leave Vietnam for China on the fast path and arrive within seconds"
space_enroll vn-express enterprise VN || fail "enrolment of vn-express"
vn=(--server "127.0.0.1:$(cat edge-vn.port)" --identity vn-express)
cn=(--server "127.0.0.1:$(cat edge-cn.port)" --identity cn-foods)
# cn-foods reads its inbox (writing each payload to inbox-cn/, then
# acknowledging it) until transfer $1 is there, for up to 10 s.
cn_receives() {
  for _ in $(seq 1 100); do
    "$bin/beibu" inbox "${cn[@]}" --out inbox-cn --ack > /dev/null 2>&1 || true
    [ -s "inbox-cn/$1" ] && return 0
    sleep 0.1
  done
  return 1
}
cat > tracks.csv <<CSV
shipment,event,place,time
HPH-77310,departed,Hai Phong port,2026-11-27T08:10:00+07:00
HPH-77310,crossed border,Huu Nghi - Youyiguan,2026-11-27T14:32:00+07:00
HPH-77310,arrived,Pingxiang logistics park,2026-11-27T16:05:00+08:00
CSV
track_id=demo-tracks-$(date +%s%N)
"$bin/beibu" send tracks.csv "${vn[@]}" --id "$track_id" --to CN --to-enterprise cn-foods \
  --category logistics.track --content-type text/csv || fail "sending the tracks"
cn_receives "$track_id" || fail "cn-foods did not receive the tracks (see edge-cn.log, hub.log)"
cmp -s tracks.csv "inbox-cn/$track_id" || fail "the tracks arrived altered"
echo "cn-foods received the tracks unchanged"
"$bin/beibu" transfer "$track_id" "${vn[@]}" --wait ACKNOWLEDGED --timeout 10 || fail "transfer status"
echo "the hub's relay queues (the operator's view; empty once delivered):"
"$bin/beibu" relay queues "${ops[@]}" || fail "relay queues"

say "A customer list leaves Singapore for China with the phone numbers and e-mails masked"
space_enroll sg-retail enterprise SG || fail "enrolment of sg-retail"
cat > customers.csv <<CSV
name,phone,email,city
Wang Fang,13800138000,wang.fang@example.cn,Nanning
Li Wei,+86 139 1234 5678,li.wei@example.cn,Guilin
CSV
cust_id=demo-customers-$(date +%s%N)
"$bin/beibu" send customers.csv --server "127.0.0.1:$(cat edge-sg.port)" --identity sg-retail \
  --id "$cust_id" --to CN --to-enterprise cn-foods --category customer.contact --pi --persons 2 \
  --attest asean-mcc --content-type text/csv || fail "sending the customer list"
cn_receives "$cust_id" || fail "cn-foods did not receive the customer list"
cat "inbox-cn/$cust_id"
if grep -q '13800138000\|wang.fang@' "inbox-cn/$cust_id"; then fail "a phone number or e-mail crossed unmasked"; fi

say "A medical record is held for review at the Vietnamese edge: the data does not move"
echo "patient: Nguyen Van An, diagnosis E11.9 (type 2 diabetes), HbA1c 8.1%" > record.txt
med_id=demo-medical-$(date +%s%N)
"$bin/beibu" send record.txt "${vn[@]}" --id "$med_id" --to CN --to-enterprise cn-foods \
  --category health.record --spi --persons 1 || fail "sending the medical record"
"$bin/beibu" transfer "$med_id" "${vn[@]}" | tee med.txt
grep -q HELD_FOR_REVIEW med.txt || fail "the medical record was not held for review"

say "Core data is refused at once, with the rules that forbid it"
echo "substation relay settings, 220 kV Nanning grid" > grid.txt
if "$bin/beibu" send grid.txt "${vn[@]}" --to CN --to-enterprise cn-foods \
  --category infrastructure.critical > core.txt 2>&1; then
  cat core.txt; fail "core data was accepted"
fi
cat core.txt
grep -q "DENY" core.txt || fail "core data was not denied"

say "Vietnam's regulator follows the tracks across the border: source edge, hub, destination edge"
for node in "edge-vn:127.0.0.1:$(cat edge-vn.port)" "hub:$hub" "edge-cn:127.0.0.1:$(cat edge-cn.port)"; do
  name=${node%%:*}; addr=${node#*:}
  "$bin/beibu" audit query --server "$addr" --identity vn-mps --transfer "$track_id" --json > "follow-$name.json" \
    || fail "audit query at $name"
  ops_seen=$(python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["event"]["operation"] for l in open(sys.argv[1]) if l.strip()})))' "follow-$name.json")
  printf '  %-8s %s\n' "$name" "$ops_seen"
  [ -n "$ops_seen" ] || fail "no audit record of the tracks at $name"
done
index=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["index"])' follow-hub.json)
"$bin/beibu" audit prove --server "$hub" --identity vn-mps "$index" > hub-proof.json || fail "inclusion proof"
"$bin/beibu" audit verify-proof hub-proof.json || fail "the hub's inclusion proof does not verify"

say "An enterprise that scrapes (a new recipient every time) trips its own breaker; the others carry on"
space_enroll vn-scraper enterprise VN || fail "enrolment of vn-scraper"
vn_ops=(--server "127.0.0.1:$(cat edge-vn.port)" --key pki/operator.key --cert pki/operator.crt
        --trust pki/trust-bundle.pem)
echo "price list of every buyer, please" > ask.txt
tripped=0
for i in $(seq 1 20); do
  if ! "$bin/beibu" send ask.txt --server "127.0.0.1:$(cat edge-vn.port)" --identity vn-scraper \
      --to CN --to-enterprise "cn-buyer-$i" --category logistics.track > scrape.txt 2>&1; then
    tripped=$i; break
  fi
done
[ $tripped -gt 0 ] || fail "20 recipients in a row did not trip the scraper's breaker"
echo "send number $tripped was refused: $(tail -n 1 scrape.txt)"
grep -q "enterprise:vn-scraper" scrape.txt || fail "the refusal does not name the scraper's breaker"
"$bin/beibu" breaker list "${vn_ops[@]}" || fail "breaker list at edge-vn"
raised=0
for _ in $(seq 1 50); do
  if "$bin/beibu" breaker list "${ops[@]}" 2>/dev/null | grep -q "vn-scraper"; then raised=1; break; fi
  sleep 0.1
done
[ $raised -eq 1 ] || fail "the hub did not hear of edge-vn's breaker"
echo "the hub heard of it:"
"$bin/beibu" breaker list "${ops[@]}" | sed 's/^/  /'
calm_id=demo-calm-$(date +%s%N)
"$bin/beibu" send tracks.csv "${vn[@]}" --id "$calm_id" --to CN --to-enterprise cn-foods \
  --category logistics.track --content-type text/csv || fail "vn-express was stopped by the scraper's breaker"
cn_receives "$calm_id" || fail "cn-foods did not receive vn-express's tracks"
echo "vn-express still sends: cn-foods received $calm_id"
# After the 3 s cool-down the breaker half-opens; if nothing is sent for
# another 3 s it closes by itself, so the probe goes as soon as it is half-open.
half_open=0
for _ in $(seq 1 100); do
  if "$bin/beibu" breaker list "${vn_ops[@]}" 2>/dev/null | grep "vn-scraper" | grep -q "half-open"; then
    half_open=1; break
  fi
  sleep 0.1
done
[ $half_open -eq 1 ] || fail "the scraper's breaker did not half-open after its cool-down"
"$bin/beibu" send ask.txt --server "127.0.0.1:$(cat edge-vn.port)" --identity vn-scraper \
  --to CN --to-enterprise cn-buyer-1 --category logistics.track > /dev/null \
  || fail "after the cool-down the scraper's probe was refused"
closed=0
for _ in $(seq 1 50); do
  if ! "$bin/beibu" breaker list "${vn_ops[@]}" 2>/dev/null | grep -q "vn-scraper"; then closed=1; break; fi
  sleep 0.1
done
[ $closed -eq 1 ] || fail "the scraper's breaker did not close after its probe"
grep 'event=breaker_closed scope=enterprise:vn-scraper' edge-vn.log | tail -n 1 | grep -q 'probe sends passed' \
  || fail "the scraper's breaker closed, but not by its probe (see edge-vn.log)"
echo "after the 3 s cool-down it half-opened; one ordinary send passed as a probe and it closed"

say "The hub trips route VN>CN on every edge: Vietnam's sends to China stop at once, then resume"
"$bin/beibu" breaker trip "${ops[@]}" --scope 'route:VN>CN' --reason "demo: suspected leak on VN>CN" \
  || fail "hub-wide trip"
held=0
for _ in $(seq 1 50); do
  if "$bin/beibu" breaker list "${vn_ops[@]}" 2>/dev/null | grep -q 'route:VN>CN'; then held=1; break; fi
  sleep 0.05
done
[ $held -eq 1 ] || fail "edge-vn did not receive the hub's breaker"
{ grep 'event=hub_breakers_applied' edge-vn.log || true; } | tail -n 1 | sed 's/^/  edge-vn: /'
if "$bin/beibu" send tracks.csv "${vn[@]}" --to CN --to-enterprise cn-foods \
    --category logistics.track --content-type text/csv > route.txt 2>&1; then
  fail "a send VN>CN passed the hub's breaker"
fi
echo "refused: $(tail -n 1 route.txt)"
"$bin/beibu" send tracks.csv "${vn[@]}" --to SG --to-enterprise sg-retail \
  --category logistics.track --content-type text/csv > /dev/null || fail "VN>SG was stopped too"
echo "VN>SG still flows"
"$bin/beibu" breaker reset "${ops[@]}" --scope 'route:VN>CN' --reason "demo: cleared" \
  || fail "hub-wide reset"
reopened=0
for _ in $(seq 1 50); do
  if "$bin/beibu" send tracks.csv "${vn[@]}" --to CN --to-enterprise cn-foods \
      --category logistics.track --content-type text/csv > /dev/null 2>&1; then reopened=1; break; fi
  sleep 0.1
done
[ $reopened -eq 1 ] || fail "VN>CN did not reopen after the hub's reset"
echo "after the hub's reset VN>CN flows again"

say "Done: every step behaved"
echo "files and logs: $work"
if [ $keep_running -eq 1 ]; then
  echo "the space keeps running; try:  $bin/beibu nodes ${ops[*]}"
  echo "press Ctrl-C to stop"
  trap 'space_stop; exit 0' INT TERM
  while true; do sleep 3600; done
fi
