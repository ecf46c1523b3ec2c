#!/usr/bin/env bash
# Contract check: schemathesis (from PyPI) against a live `orgd serve` over both dialects with a valid token.
# Fails on any 5xx, any response that breaks the OpenAPI document (/openapi.json) and any crash.
# `DELETE /v1/session` is left out: it revokes the presenting token (by design), which would end the run.
# Usage: tests/contract/run.sh [ORGD_BINARY]   (env: CONTRACT_SEED, CONTRACT_EXAMPLES, CONTRACT_SECONDS)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../target/debug/orgd}"
seed="${CONTRACT_SEED:-20261122}"
examples="${CONTRACT_EXAMPLES:-100}"
seconds="${CONTRACT_SECONDS:-240}"
token="orgd_contractfuzztokn_FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"

command -v schemathesis >/dev/null || python3 -m pip install -q --root-user-action=ignore 'schemathesis>=4,<5'

work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --ephemeral --listen 127.0.0.1:0 --seed "$here/seed.yaml" >"$work/ready" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/ready" ] && break; kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }; sleep 0.1; done
url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/ready")"
ca="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["caCert"])' "$work/ready")"
# Real ids for the path parameters, so the generated bodies reach the handlers and not just a 404.
get() { curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$url$1"; }
org_id="$(get /api/v1/tenants | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["orgId"])')"
dataset_id="$(get /api/v1/CONTRACT/datasets | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["datasetId"])')"
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.tenantId" = "CONTRACT"
"path.org_id" = "$org_id"
"path.datasetId" = "$dataset_id"
"path.psk" = "2"
TOML
echo "contract: orgd at $url; schemathesis seed $seed, at most $examples examples per operation, ${seconds}s"

status=0
cd "$work"   # schemathesis keeps its caches in the working folder: keep them out of the checkout
timeout "$seconds" schemathesis --config-file "$work/schemathesis.toml" run "$url/openapi.json" \
    --url "$url" --tls-verify "$ca" \
    -H "Authorization: Bearer $token" -H "X-TOKEN: $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance \
    --max-examples "$examples" --seed "$seed" \
    --exclude-operation-id deleteV1Session --exclude-operation-id deleteV1OrgOrgIdSession \
    --request-timeout 10 --no-color || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
    echo "contract: orgd is no longer running (crash)"; tail -50 "$work/log"; exit 1
fi
if grep -q '"level":"ERROR"\|panicked' "$work/log"; then
    echo "contract: orgd logged errors during the run:"; grep '"level":"ERROR"\|panicked' "$work/log" | head -20
    status=1
fi
[ "$status" = 124 ] && echo "contract: the run hit its ${seconds}s bound"
exit "$status"
