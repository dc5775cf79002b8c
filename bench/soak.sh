#!/usr/bin/env bash
# The soak benchmark of issue 19: `blogflow run` for about 15 minutes (SOAK_SECS) under three
# fake providers answering 30 % 500, 10 % hang and 5 % 429 with a 30-year Retry-After, fake
# WordPress and Ghost sites down for random windows of up to 5 minutes, and three kill -9;
# then a drain. Prints posts requested, published and duplicated per target, posts held with
# reasons, jobs that need a human, the slowest tick-to-published time and RSS at start and end.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECS="${SOAK_SECS:-900}"
# The test support's watchdog ends a test binary after 900 s; the soak runs longer on purpose.
export BLOGFLOW_TEST_WATCHDOG_SECS=$((SOAK_SECS + 1500))
cargo test --test soak -- --ignored --nocapture soak
