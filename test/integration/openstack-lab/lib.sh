# Helpers shared by start.sh, start-nova.sh and stop.sh. Processes are found
# from the PIDs the lab recorded and their descendants only, never by name.
# The start scripts set LAB_TAG (their log prefix), LAB_POLL_SECONDS and
# STARTED_AT before using say, fail or wait_until.

# descendants <pid>: every process below <pid>, children before grandchildren.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# family_kib <pid> <file under /proc/PID> <field>: a memory field of <pid> and
# all its descendants, summed, in KiB.
family_kib() {
  local total=0 pid kib
  for pid in "$1" $(descendants "$1"); do
    kib=$(awk -v field="$3:" '$1 == field { print $2 }' "/proc/$pid/$2" 2>/dev/null || true)
    total=$(( total + ${kib:-0} ))
  done
  echo "$total"
}

# rss_kib <pid>: resident memory of the family. Forked workers share pages
# with their parent, so this sum over-counts.
rss_kib() { family_kib "$1" status VmRSS; }

# pss_kib <pid>: the family's proportional set size (shared pages split
# between the processes sharing them): what the family really costs.
pss_kib() { family_kib "$1" smaps_rollup Pss; }

seconds_since() { awk -v now="$(date +%s.%N)" -v then="$1" 'BEGIN { printf "%.1f", now - then }'; }
say() { printf '[%s %5ss] %s\n' "$LAB_TAG" "$(seconds_since "$STARTED_AT")" "$*"; }
fail() { printf '[%s] ERROR: %s\n' "$LAB_TAG" "$*" >&2; exit 1; }

# wait_until <seconds> <what> <command...>: polls every $LAB_POLL_SECONDS.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what did not come up within ${limit}s (logs: $LAB_DIR/logs)"
    sleep "$LAB_POLL_SECONDS"
  done
}

# start_service <name> <command...>: detached from this shell's job control,
# output to logs/<name>.out, PID recorded before anything else can fail.
start_service() {
  local name=$1; shift
  setsid "$@" </dev/null >"$LAB_DIR/logs/$name.out" 2>&1 &
  echo $! >"$LAB_DIR/pids/$name.pid"
}

# apt_install <log name> <package...>: apt-get update and install, output to
# logs/<log name>.log. A policy-rc.d guard keeps the packages' maintainer
# scripts from starting system-wide services (MariaDB, RabbitMQ); it is
# removed only if placed here.
apt_install() {
  local log="$LAB_DIR/logs/$1.log" guard=/usr/sbin/policy-rc.d placed_guard=0
  shift
  apt-get update -qq
  if [ ! -e "$guard" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$guard"; chmod 755 "$guard"; placed_guard=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 \
    || { [ "$placed_guard" = 0 ] || rm -f "$guard"; tail -20 "$log" >&2; fail "apt-get install failed"; }
  [ "$placed_guard" = 0 ] || rm -f "$guard"
}
