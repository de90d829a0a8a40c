# Shared by the seed 003 scripts (sourced, not run): fetch /api/health into $response.
# HEALTH_URL (default http://127.0.0.1:8000/api/health) and MONITORING_TOKEN (optional bearer
# token: the performance and cache sections are only in the detailed view) come from the environment.
# Exit codes of the scripts: 0 fine, 1 alert, 2 unknown (unreachable, not JSON, section missing).

HEALTH_URL=${HEALTH_URL:-http://127.0.0.1:8000/api/health}
MONITORING_TOKEN=${MONITORING_TOKEN:-}

fetch_health() {
  local auth=()
  if [ -n "$MONITORING_TOKEN" ]; then
    auth=(-H "Authorization: Bearer $MONITORING_TOKEN")
  fi
  # No -f: a 503 ("down") still carries the JSON report.
  if ! response=$(curl -sS --max-time "${HEALTH_TIMEOUT:-10}" "${auth[@]}" "$HEALTH_URL" 2>&1); then
    echo "UNKNOWN: cannot reach $HEALTH_URL: $response"
    return 2
  fi
  if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$response"; then
    echo "UNKNOWN: $HEALTH_URL did not answer with a JSON object"
    return 2
  fi
}

# Print the integer at a jq path, or nothing when it is missing or not a number.
json_int() {
  jq -r "($1) | if type == \"number\" then floor else empty end" <<<"$response"
}
