#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then the unit and namespace suites, then the
# kernel suite in a VM. Run as root (the integration tests create network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc --noEmit -p tsconfig.json
# Every test, including the slow ones (the 190 s rekey-under-flow run); WGTS_SLOW=0 skips those.
WGTS_SLOW=${WGTS_SLOW:-1} npx vitest run
if [ -f test/kernel/run-vm.sh ]; then bash test/kernel/run-vm.sh; fi
