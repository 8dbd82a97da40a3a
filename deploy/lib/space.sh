# Shell functions to run a local Beibu space on loopback (sourced by
# deploy/demo.sh and bench/exchange_bench.sh). Expects $bin (the binaries) and
# runs in the current directory, which holds every file of the space.
#
#   space_init                 CA + hub identities (pki/), starts the hub; sets $hub, $ops
#   space_edge ID CC [YAML]    token, config, start; the edge enrols on first start;
#                              YAML (optional): text appended to the edge's config,
#                              e.g. a `gateway:` section (docs/gateway.md §5)
#   space_wait_online N        until N edges are online at the hub
#   space_enroll ID ROLE CC    enrols a party into directory ./ID
#   space_stop                 SIGTERM to everything started, then wait
space_pids=()

space_stop() {
  for pid in "${space_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${space_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

space_wait_for_file() {  # path, seconds
  for _ in $(seq 1 $(($2 * 20))); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}

space_init() {
  "$bin/beibu" pki init --dir pki --country CN > pki-init.txt || return 1
  cat > hub.yaml <<YAML
listen: 127.0.0.1:0
data_dir: $PWD/hub-data
pki_dir: $PWD/pki
heartbeat_timeout_ms: 3000
YAML
  "$bin/beibu-hub" --config hub.yaml --port-file hub.port > hub.log 2>&1 &
  space_pids+=($!)
  space_wait_for_file hub.port 10 || return 1
  hub="127.0.0.1:$(cat hub.port)"
  ops=(--server "$hub" --key pki/operator.key --cert pki/operator.crt --trust pki/trust-bundle.pem)
}

space_edge() {  # id country [extra yaml]
  local token
  token=$("$bin/beibu" pki token create "${ops[@]}" --id "$1" --role edge --country "$2" 2>/dev/null) \
    || return 1
  cat > "$1.yaml" <<YAML
node_id: $1
listen: 127.0.0.1:0
hub: $hub
data_dir: $PWD/$1
join_token: $token
heartbeat_interval_ms: 500
YAML
  [ -z "${3:-}" ] || printf '%s\n' "$3" >> "$1.yaml"
  "$bin/beibu-edge" --config "$1.yaml" --port-file "$1.port" > "$1.log" 2>&1 &
  space_pids+=($!)
}

space_wait_online() {  # count
  local online=0
  for _ in $(seq 1 100); do
    online=$("$bin/beibu" nodes "${ops[@]}" 2>/dev/null | grep -c ' online ' || true)
    [ "$online" -ge "$1" ] && return 0
    sleep 0.2
  done
  return 1
}

space_enroll() {  # id role country
  local token
  token=$("$bin/beibu" pki token create "${ops[@]}" --id "$1" --role "$2" --country "$3" 2>/dev/null) \
    || return 1
  "$bin/beibu" enroll --hub "$hub" --token "$token" --out "$1" --id "$1" > /dev/null
}

space_edge_addr() { echo "127.0.0.1:$(cat "$1.port")"; }
