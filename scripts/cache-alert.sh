#!/usr/bin/env bash
# cache-alert.sh (seed 003): exit 1 when the cache hit rate is under CACHE_HIT_RATE_MIN (70), else 0.
# Adapted from the seed: hitRate is a number such as 91.67 (or "91.67%"), so it is compared as a
# number by jq instead of with the shell's integer `-lt` ("integer expression expected"); a hit
# rate of null (no cache request yet) is not an alert; a report without a cache section exits 2.
set -uo pipefail
. "$(dirname "$0")/health-lib.sh"
threshold=${CACHE_HIT_RATE_MIN:-70}
if ! [[ "$threshold" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "UNKNOWN: CACHE_HIT_RATE_MIN must be a number, got '$threshold'"
  exit 2
fi

fetch_health || exit 2
verdict=$(jq -r --argjson min "$threshold" '
  if (.cache | type) != "object" or .cache.available == false then "missing"
  elif .cache.hitRate == null then "none"
  else (.cache.hitRate | tostring | rtrimstr("%") | tonumber? // null) as $rate
    | if $rate == null then "missing" elif $rate < $min then "low \($rate)" else "good \($rate)" end
  end' <<<"$response")

case "$verdict" in
  missing)
    echo "UNKNOWN: the report has no cache hit rate (set MONITORING_TOKEN)"
    exit 2 ;;
  none)
    echo "✅ No cache requests yet: no hit rate to check"
    exit 0 ;;
  low*)
    echo "⚠️ Low cache hit rate: ${verdict#low }% (target: >${threshold}%)"
    exit 1 ;;
esac

echo "✅ Cache hit rate good: ${verdict#good }%"
exit 0
