#!/usr/bin/env bash
# performance-alert.sh (seed 003): exit 1 when slow or critical queries were recorded, else 0.
# Adapted from the seed: the counts are checked to be integers before `-gt` (the seed's script
# fails with "integer expression expected" when the section is missing), and a report without a
# performance section (no MONITORING_TOKEN) exits 2 saying so.
set -uo pipefail
. "$(dirname "$0")/health-lib.sh"

fetch_health || exit 2
slow=$(json_int '.performance.slowQueries')
critical=$(json_int '.performance.criticalQueries')
if [ -z "$slow" ] || [ -z "$critical" ]; then
  echo "UNKNOWN: the report has no performance section (set MONITORING_TOKEN)"
  exit 2
fi

if [ "$slow" -gt 0 ] || [ "$critical" -gt 0 ]; then
  echo "⚠️ Slow queries detected: $slow slow, $critical critical"
  exit 1
fi

echo "✅ No slow queries detected"
exit 0
