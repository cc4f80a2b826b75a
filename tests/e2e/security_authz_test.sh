#!/usr/bin/env bash
# shellcheck disable=SC2034 # BROKER_* are read by lib.sh's cleanup
# End-to-end: who may call what, through the real broker over mTLS.
#
# Five callers: admin, operator and viewer by bearer token, rome's agent
# by its client certificate (agent:rome), and nobody (no credentials).
# The matrix below is every endpoint of DESIGN.md section 5 against the
# five, each cell the HTTP status expected. Then the spoofing cases: the
# rome agent publishing, reserving, reading and acting as paris is
# refused with the reason, and its listings hold only rome's business.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init

PKI="$E2E_DIR/pki"
"$LRB_BIN" certs init --dir "$PKI" >/dev/null || exit 1
"$LRB_BIN" certs issue --dir "$PKI" --server --host localhost >/dev/null ||
  exit 1
"$LRB_BIN" certs issue --dir "$PKI" --cluster rome >/dev/null || exit 1

declare -A TOKEN=(
  [admin]=adm-$(openssl rand -hex 12)
  [operator]=ops-$(openssl rand -hex 12)
  [viewer]=see-$(openssl rand -hex 12)
)
{
  echo "# token identity role"
  echo "${TOKEN[admin]} root admin"
  echo "${TOKEN[operator]} alice operator"
  echo "${TOKEN[viewer]} grafana viewer"
} >"$E2E_DIR/tokens"
chmod 600 "$E2E_DIR/tokens"

start_broker "$E2E_DIR/broker" --tls-cert "$PKI/server.crt" \
  --tls-key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
  --tokens-file "$E2E_DIR/tokens" || exit 1
BROKER_URL="https://localhost:$BROKER_PORT"

# as WHO METHOD PATH [BODY]: one request as WHO (admin, operator, viewer,
# rome or none); sets STATUS and BODY.
as() {
  local who=$1 method=$2 path=$3
  local args=(--cacert "$PKI/ca.crt")
  case $who in
  rome) args+=(--cert "$PKI/rome.crt" --key "$PKI/rome.key") ;;
  none) ;;
  *) args+=(-H "Authorization: Bearer ${TOKEN[$who]}") ;;
  esac
  if (($# > 3)); then
    args+=(-H 'Content-Type: application/json' --data-binary "$4")
  elif [[ $method == POST ]]; then
    args+=(--data-binary '')
  fi
  api_raw "$method" "$path" "${args[@]}"
}

REQ_ROME='{"requesterID": "rome", "requestedResources":
  {"cpu": "1", "memory": "1Gi"}, "targetClusterID": "paris"}'
# Prints the id of a new reservation of rome on paris, made by the admin.
new_reservation() {
  as admin POST /api/v1/reservations "$REQ_ROME"
  jb .id
}

for c in rome paris berlin; do
  as admin POST /api/v1/advertisements "$(ad_json "$c")"
  expect_status "admin advertises $c" 200 || exit 1
done
SHARED=$(new_reservation)

# The matrix. Columns: method, path, body, then the status for admin,
# operator, viewer, rome and none. {new} in the path is a reservation
# made for that one call (release and activate end it or move it on);
# {r} is SHARED, a reservation of rome on paris.
ROLES=(admin operator viewer rome none)
MATRIX=(
  "GET /healthz - 200 200 200 200 200"
  "GET /readyz - 200 200 200 200 200"
  "GET /version - 200 200 200 200 200"
  "GET /metrics - 200 200 200 200 200"
  "GET /api/v1/clusters - 200 200 200 200 401"
  "GET /api/v1/clusters/paris - 200 200 200 200 401"
  "GET /api/v1/advertisements - 200 200 200 200 401"
  "GET /api/v1/advertisements/berlin - 200 200 200 200 401"
  "POST /api/v1/advertisements ad:rome 200 403 403 200 401"
  "POST /api/v1/clusters/berlin/cordon - 200 200 403 403 401"
  "POST /api/v1/clusters/berlin/uncordon - 200 200 403 403 401"
  "POST /api/v1/reservations req:rome 201 201 403 201 401"
  "GET /api/v1/reservations - 200 200 200 200 401"
  "GET /api/v1/reservations/{r} - 200 200 200 200 401"
  "POST /api/v1/reservations/{r}/renew - 200 200 403 200 401"
  "POST /api/v1/reservations/{new}/activate - 200 200 403 200 401"
  "POST /api/v1/reservations/{new}/release - 200 200 403 200 401"
  "POST /api/v1/explain req:rome 200 200 200 200 401"
  "GET /api/v1/events?since=0&timeout=0s - 200 200 200 200 401"
)
for row in "${MATRIX[@]}"; do
  read -r -a cols <<<"$row"
  method=${cols[0]} path=${cols[1]} body=${cols[2]}
  want=("${cols[@]:3}")
  for i in "${!ROLES[@]}"; do
    who=${ROLES[$i]}
    p=${path//\{r\}/$SHARED}
    [[ $p != *"{new}"* ]] || p=${p//\{new\}/$(new_reservation)}
    case $body in
    -) as "$who" "$method" "$p" ;;
    ad:*) as "$who" "$method" "$p" "$(ad_json "${body#ad:}")" ;;
    req:*) as "$who" "$method" "$p" "$REQ_ROME" ;;
    esac
    expect_status "$who: $method $path -> ${want[$i]}" "${want[$i]}" ||
      true
  done
done

# --- refusals say why -------------------------------------------------------
as viewer POST /api/v1/clusters/berlin/cordon
expect_error "a viewer's cordon is 403 with a body" 403 ""
expect_match "naming the caller and the roles that may" \
  "grafana \(viewer\) may not cordon.*operator" "$(jb .error.message)"
as none GET /api/v1/clusters
expect_eq "401 is reported as Unauthenticated" Unauthenticated \
  "$(jb .error.code)"

# --- spoofing: rome's agent speaking for paris -----------------------------
as rome POST /api/v1/advertisements "$(ad_json paris)"
expect_error "rome publishing paris's advertisement: 403" 403 ""
expect_match "because an agent acts only for its own cluster" \
  "rome \(agent:rome\) may not advertise for cluster paris" \
  "$(jb .error.message)"
as rome POST /api/v1/reservations \
  '{"requesterID": "paris", "requestedResources": {"cpu": "1", "memory":
    "1Gi"}}'
expect_error "rome reserving as paris: 403" 403 ""
as admin POST /api/v1/reservations \
  '{"requesterID": "paris", "requestedResources": {"cpu": "1", "memory":
    "1Gi"}, "targetClusterID": "berlin"}'
PARIS_R=$(jb .id)
as rome GET "/api/v1/reservations/$PARIS_R"
expect_error "rome reading paris's reservation: 403" 403 ""
as rome GET "/api/v1/reservations?clusterID=paris"
expect_error "rome listing paris's reservations: 403" 403 ""
as rome POST "/api/v1/reservations/$PARIS_R/release"
expect_error "rome releasing paris's reservation: 403" 403 ""
as rome GET "/api/v1/events?clusterID=paris&since=0&timeout=0s"
expect_error "rome watching paris's events: 403" 403 ""
as rome POST /api/v1/clusters/paris/cordon
expect_error "rome cordoning paris: 403" 403 ""

as admin GET /api/v1/reservations
ALL=$(jb '[.items[] | select(.requesterID == "rome" or
  .targetClusterID == "rome") | .id] | sort | join(" ")')
TOTAL=$(jb '.items | length')
as rome GET /api/v1/reservations
expect_eq "rome's listing holds exactly the reservations rome is part of" \
  "$ALL" "$(jb '[.items[].id] | sort | join(" ")')"
expect_ne "and the broker holds others (paris's)" \
  "$(jb '.items | length')" "$TOTAL"
as rome GET "/api/v1/events?since=0&timeout=0s"
expect_eq "rome's events concern only rome" "true" \
  "$(jb '[.events[] | tostring | test("rome")] | all')"
as admin GET "/api/v1/reservations/$PARIS_R"
expect_eq "paris's reservation is untouched by the refused release" \
  Reserved "$(jb .status.phase)"

# --- /metrics behind credentials -------------------------------------------
stop_broker
start_broker "$E2E_DIR/broker" --tls-cert "$PKI/server.crt" \
  --tls-key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
  --tokens-file "$E2E_DIR/tokens" --metrics-auth true || exit 1
BROKER_URL="https://localhost:$BROKER_PORT"
as none GET /metrics
expect_error "--metrics-auth: /metrics without credentials is 401" 401 "*"
as viewer GET /metrics
expect_status "--metrics-auth: a viewer scrapes /metrics" 200
as none GET /healthz
expect_status "--metrics-auth leaves /healthz open" 200
summary
