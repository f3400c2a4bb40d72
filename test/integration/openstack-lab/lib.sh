# Process helpers shared by start.sh and stop.sh. Processes are found from the
# PIDs the lab recorded and their descendants only, never by name.

# descendants <pid>: every process below <pid>, children before grandchildren.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# rss_kib <pid>: resident memory of <pid> and all its descendants, in KiB.
# Forked workers share pages with their parent, so this sum over-counts.
rss_kib() {
  local total=0 pid kib
  for pid in "$1" $(descendants "$1"); do
    kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    total=$(( total + ${kib:-0} ))
  done
  echo "$total"
}

# pss_kib <pid>: the same family's proportional set size (shared pages split
# between the processes sharing them): what the family really costs.
pss_kib() {
  local total=0 pid kib
  for pid in "$1" $(descendants "$1"); do
    kib=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
    total=$(( total + ${kib:-0} ))
  done
  echo "$total"
}
