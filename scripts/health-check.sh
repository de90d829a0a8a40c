#!/usr/bin/env bash
# health-check.sh (seed 003): exit 0 when /api/health reports "ok", 1 otherwise.
# Adapted from the seed: the URL and token come from HEALTH_URL / MONITORING_TOKEN, and an
# unreachable server is reported as a failure instead of an empty status.
set -uo pipefail
. "$(dirname "$0")/health-lib.sh"

if ! fetch_health; then
  echo "🚨 HEALTH CHECK FAILED: no report"
  exit 1
fi
status=$(jq -r '.status // "missing"' <<<"$response")

if [ "$status" != "ok" ]; then
  echo "🚨 HEALTH CHECK FAILED: $status"
  exit 1
fi

echo "✅ Health check passed"
exit 0
