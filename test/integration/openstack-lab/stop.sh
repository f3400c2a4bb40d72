#!/usr/bin/env bash
# Stops the lab that start.sh started from the same $SKE_LAB_DIR: exactly the
# PIDs it recorded in $SKE_LAB_DIR/pids/ and the processes below them, newest
# service first. Never looks processes up by name.
#
#   bash test/integration/openstack-lab/stop.sh           # keep state and logs
#   bash test/integration/openstack-lab/stop.sh --purge   # ... and delete $SKE_LAB_DIR
set -uo pipefail

LAB_DIR="${SKE_LAB_DIR:-${TMPDIR:-/tmp}/ske-openstack-lab}"
PURGE=0
case "${1:-}" in
  "") ;;
  --purge) PURGE=1 ;;
  *) echo "usage: stop.sh [--purge]" >&2; exit 64 ;;
esac
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# stop_service <name>: TERM, up to 10 s of grace, then KILL; the same for any
# descendant that outlives its parent.
stop_service() {
  local name=$1 pidfile="$LAB_DIR/pids/$1.pid" pid family member _
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "[lab] $name (pid $pid) had already exited"
    rm -f "$pidfile"; return 0
  fi
  # Taken before the TERM: once the parent is gone its orphans are re-parented
  # and could no longer be told apart from anyone else's processes.
  family=$(descendants "$pid" | tr '\n' ' ')
  echo "[lab] stopping $name (pid $pid${family:+, children $family})"
  kill -TERM "$pid" 2>/dev/null
  for member in "$pid" $family; do
    for _ in $(seq 40); do kill -0 "$member" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$member" 2>/dev/null; then
      echo "[lab]   pid $member ignored TERM; sending KILL"
      kill -KILL "$member" 2>/dev/null
    fi
  done
  rm -f "$pidfile"
}

if [ -d "$LAB_DIR/pids" ]; then
  # Reverse start order: the APIs before the database they write to. Any
  # service this list does not know (a later addition) goes first. RabbitMQ
  # before its epmd: a node that loses epmd while it stops starts an
  # `epmd -daemon` of its own, which nothing here would ever end.
  known=" rabbitmq epmd neutron-server keystone mariadb "
  for pidfile in "$LAB_DIR"/pids/*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    case "$known" in *" $name "*) ;; *) stop_service "$name" ;; esac
  done
  for name in $known; do stop_service "$name"; done
else
  echo "[lab] no $LAB_DIR/pids: nothing was started from $LAB_DIR"
fi

if [ "$PURGE" = 1 ] && [ -d "$LAB_DIR" ]; then
  rm -rf "$LAB_DIR"
  echo "[lab] removed $LAB_DIR"
fi
