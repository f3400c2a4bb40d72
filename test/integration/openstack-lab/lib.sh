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
