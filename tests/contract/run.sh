#!/usr/bin/env bash
# Contract check: schemathesis (from PyPI) against a live `orgd serve` over both dialects with a valid token.
# Fails on any 5xx, any response that breaks the OpenAPI document (/openapi.json) and any crash, and runs
# every other check of schemathesis but three: `positive_data_acceptance` (a schema cannot say that a
# user id is taken or a password breaks the org's rules), `ensure_resource_availability` (the deleting
# operations are pointed at ids of their own below, not at what the run just created) and
# `unsupported_method` (a presigned URL answers 40350 to a method it was not signed for, orgvue-dialect
# §7.2; that every other method of an API route is 405 is proven from the route table by
# `isolation::the_route_table_is_exactly_what_the_server_routes`).
# Path parameters get real ids from the seed (tests/contract/seed.yaml), so generated requests reach the
# handlers; the operations that delete get ids of their own (a doomed user, dataset, draft, webhook and a spare
# token).
# `DELETE /v1/session` is left out: it revokes the presenting token (by design), which would end the run.
# Usage: tests/contract/run.sh [ORGD_BINARY]   (env: CONTRACT_SEED, CONTRACT_EXAMPLES, CONTRACT_SECONDS)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../target/debug/orgd}"
seed="${CONTRACT_SEED:-20261122}"
examples="${CONTRACT_EXAMPLES:-100}"
seconds="${CONTRACT_SECONDS:-300}"
token="orgd_contractfuzztokn_FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"

command -v schemathesis >/dev/null || python3 -m pip install -q --root-user-action=ignore 'schemathesis>=4,<5'

work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --ephemeral --listen 127.0.0.1:0 --seed "$here/seed.yaml" >"$work/ready" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/ready" ] && break; kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }; sleep 0.1; done
url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/ready")"
ca="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["caCert"])' "$work/ready")"
get() { curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$url$1"; }
pick() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
org_id="$(get /api/v1/tenants | pick 'd[0]["orgId"]')"
datasets="$(get /api/v1/CONTRACT/datasets)"
dataset_id="$(echo "$datasets" | pick '[x for x in d if x["name"] == "People"][0]["datasetId"]')"
doomed_dataset="$(echo "$datasets" | pick '[x for x in d if x["name"] == "Doomed"][0]["datasetId"]')"
item_id="$(get "/api/v1/CONTRACT/datasets/$dataset_id/items" | pick 'd[0]["_id"]')"
drafts="$(get /api/v1/CONTRACT/drafts)"
draft_id="$(echo "$drafts" | pick '[x for x in d if x["name"] == "Contract draft"][0]["draftId"]')"
doomed_draft="$(echo "$drafts" | pick '[x for x in d if x["name"] == "Doomed draft"][0]["draftId"]')"
users="$(get /v1/users)"
spare_psk="$(echo "$users" | pick '[u for u in d["users"] if u["user_id"] == "spare@contract.test"][0]["psk"]')"
doomed_psk="$(echo "$users" | pick '[u for u in d["users"] if u["user_id"] == "doomed@contract.test"][0]["psk"]')"
hooks="$(get /v1/webhooks)"
webhook_id="$(echo "$hooks" | pick '[w for w in d["webhooks"] if w["description"] == "Contract webhook"][0]["webhookId"]')"
doomed_webhook="$(echo "$hooks" | pick '[w for w in d["webhooks"] if w["description"] == "Doomed webhook"][0]["webhookId"]')"
delivery_id="$(get "/v1/webhooks/$webhook_id/deliveries" | pick 'd["deliveries"][-1]["deliveryId"]')"
job_id="$(curl -sf --cacert "$ca" -H "Authorization: Bearer $token" -X POST \
    "$url/api/v1/CONTRACT/datasets/$dataset_id/export?exportFormat=csv" | pick 'd["jobId"]')"
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.tenantId" = "CONTRACT"
"path.org_id" = "$org_id"
"path.datasetId" = "$dataset_id"
"path.itemId" = "$item_id"
"path.jobId" = "$job_id"
"path.draftId" = "$draft_id"
"path.psk" = $spare_psk
"path.token_id" = "contractsparetok"
"path.webhookId" = "$webhook_id"
"path.deliveryId" = "$delivery_id"

[[operations]]
include-operation-id = ["deleteApiV1TenantIdDatasetsDatasetId"]
parameters = { "path.datasetId" = "$doomed_dataset" }

[[operations]]
include-operation-id = ["deleteApiV1TenantIdDraftsDraftId"]
parameters = { "path.draftId" = "$doomed_draft" }

[[operations]]
include-operation-id = ["deleteApiV1TenantIdWebhooksWebhookId", "deleteV1WebhooksWebhookId", "deleteV1OrgOrgIdWebhooksWebhookId"]
parameters = { "path.webhookId" = "$doomed_webhook" }

[[operations]]
include-operation-id = ["deleteV1UsersPsk", "deleteV1OrgOrgIdUsersPsk", "deleteUsersPsk"]
parameters = { "path.psk" = $doomed_psk }
TOML
echo "contract: orgd at $url; schemathesis seed $seed, at most $examples examples per operation, ${seconds}s"

status=0
cd "$work"   # schemathesis keeps its caches in the working folder: keep them out of the checkout
timeout "$seconds" schemathesis --config-file "$work/schemathesis.toml" run "$url/openapi.json" \
    --url "$url" --tls-verify "$ca" \
    -H "Authorization: Bearer $token" -H "X-TOKEN: $token" \
    --checks all --exclude-checks "${CONTRACT_EXCLUDE_CHECKS:-positive_data_acceptance,ensure_resource_availability,unsupported_method}" \
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
