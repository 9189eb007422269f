#!/usr/bin/env bash
# The project's `npm test`: bring up Kafka and Redis (reusing what already answers), run the whole
# vitest suite, then stop only what was started here. Exits with vitest's status.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run --silent infra:up || { echo "infra:up failed: the integration tests need Kafka and Redis (see above)" >&2; exit 1; }
npx vitest run "$@"
status=$?
npm run --silent infra:down || true
exit $status
