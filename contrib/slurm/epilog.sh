#!/bin/sh
# bale Epilog for SLURM (slurm.conf: Epilog=/etc/slurm/bale-epilog.sh).
#
# slurmd runs it as root on every node of a job when the job ends (also
# when it was cancelled or timed out). It releases every image mounted for
# the job on this node, ending processes of the job that still keep one
# busy, and then repairs what no record explains (bale cleanup --cleanup).
#
# It always exits 0: a failing epilog drains the node. Failures go to
# syslog; `bale cleanup` or the next job's epilog repairs what was left.

set -u
BALE=/usr/bin/bale              # where bale is installed
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() {
    logger -t bale-slurm -p user.notice -- "epilog: job ${SLURM_JOB_ID:-?}: $*" 2>/dev/null ||
        echo "bale-slurm: epilog: job ${SLURM_JOB_ID:-?}: $*" >&2
}

job=${SLURM_JOB_ID:-}
if [ -z "$job" ]; then
    log "no SLURM_JOB_ID in the environment; nothing released"
    exit 0
fi
if [ ! -x "$BALE" ]; then
    log "$BALE is not installed; nothing released"
    exit 0
fi
if ! said=$("$BALE" umount-all --job-id "$job" --kill --cleanup </dev/null 2>&1); then
    log "bale umount-all --job-id $job --kill --cleanup failed: $(printf '%s' "$said" | tr '\n' ' ')"
fi
exit 0
