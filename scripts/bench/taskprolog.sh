#!/usr/bin/env bash
# What the SLURM TaskProlog's `bale module-hook load NAME/VERSION --job-id ID`
# calls cost on one node: N concurrent tasks (as `srun -n N` starts them),
# each loading three modules as an unprivileged user, first with nothing
# mounted and again with everything recorded; per-call median, p90 and max,
# and the time until all N tasks are done. The measurement is the ignored
# test crates/cli/tests/bench_taskprolog.rs, built in release mode: it runs
# on the test suite's site (support/frame.rs), which installs
# /etc/bale/config.toml, the helper and a sudo rule under the machine-wide
# flock /tmp/bale-frame-test.lock and removes them afterwards — so it waits
# while a test run holds the site, and refuses to run where a real site is
# configured. Needs the users of scripts/test.sh (bale-test).
# Usage: scripts/bench/taskprolog.sh [TASKS...]   (as root; default 1 16 64;
# RUNS=3 rounds of each)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "taskprolog.sh: run as root (kernel mounts, a sudo rule)" >&2; exit 1; }
tasks=${*:-1 16 64}
BENCH_TASKS=$tasks BENCH_RUNS=${RUNS:-3} cargo test --release --quiet -p bale --test bench_taskprolog \
    -- --ignored --nocapture --test-threads=1 taskprolog_module_loads
