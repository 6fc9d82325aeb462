#!/bin/sh
# bale TaskProlog for SLURM (slurm.conf: TaskProlog=/etc/slurm/bale-task-prolog.sh).
#
# slurmstepd runs it as the job's user before every task, on every node of
# the job, with the task's environment. For each module the job has loaded
# it mounts the module's software image over the module's directory,
# recorded for the job, so the Epilog releases it. The modules are those in
# BALE_MODULES (the images' NAME/VERSION, set by bale's modulefile snippet,
# also for a renamed module or one in a category directory) and in
# LOADEDMODULES (the modulefiles' names, as Lmod and Environment Modules
# export them, for modulefiles with an older snippet); names that are not
# NAME/VERSION cannot be images and are skipped.
# Calling it again for the same job and module (one call per task) is
# harmless, as a job has one record per mount point, and cheap: once the
# job holds the module and it is mounted, bale sees so without sudo.
#
# It never fails the task: when bale cannot mount an image the failure goes
# to syslog and the job runs on the module's original files. Its standard
# output is read by slurmstepd (export/unset/print lines), so bale's own
# output is kept off it.

set -u
set -f                          # module names are not patterns
BALE=/usr/bin/bale              # where bale is installed
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() {
    logger -t bale-slurm -p user.notice -- "task-prolog: job ${SLURM_JOB_ID:-?}: $*" 2>/dev/null ||
        echo "bale-slurm: task-prolog: job ${SLURM_JOB_ID:-?}: $*" >&2
}

job=${SLURM_JOB_ID:-}
modules=${BALE_MODULES:-}:${LOADEDMODULES:-}
[ -n "$job" ] && [ "$modules" != : ] || exit 0
if [ ! -x "$BALE" ]; then
    log "$BALE is not installed; modules run on their original files"
    exit 0
fi

IFS=:
for module in $modules; do
    case $module in
        */*/* | /* | */) continue ;;
        */*) ;;
        *) continue ;;
    esac
    if ! said=$("$BALE" module-hook load "$module" --job-id "$job" </dev/null 2>&1); then
        log "bale module-hook load $module failed: $(printf '%s' "$said" | tr '\n' ' ')"
    fi
done
exit 0
