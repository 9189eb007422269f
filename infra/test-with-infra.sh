#!/usr/bin/env bash
# The project's `npm test`: bring up Kafka and Redis (reusing what already answers), run vitest with
# the given arguments, then stop only what this run started (and only if no other test run still uses
# it: the lease below). Exits with vitest's status, also when interrupted (130) or when infra:up fails (1).
set -uo pipefail
cd "$(dirname "$0")/.."
export CONCORD_INFRA_LEASE=$$
status=1
finish() {
  trap - EXIT INT TERM
  npm run --silent infra:down || echo "test-with-infra: infra:down failed (see above); \`npm run infra:down\` stops what infra:up started" >&2
  exit "$status"
}
trap finish EXIT
trap 'status=130; exit' INT
trap 'status=143; exit' TERM
bash infra/chromium.sh
if ! npm run --silent infra:up; then
  echo "test-with-infra: infra:up failed: the integration tests need Kafka and Redis (see above; docs/operations.md)" >&2
  exit
fi
npx vitest run "$@"
status=$?
