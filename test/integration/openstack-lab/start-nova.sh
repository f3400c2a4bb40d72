#!/usr/bin/env bash
# Optional add-on to start.sh, for the pre-flight tier: RabbitMQ, Placement,
# Glance (file store) and Nova (API, conductor, scheduler, and compute with
# compute_driver=fake.FakeDriver) on 127.0.0.1, so flavors, images,
# availability zones and compute quotas are real. Adapted from the shared
# openstack-lab recipe (setup-nova.sh) to this lab's layout: state in
# $SKE_LAB_DIR, MariaDB on its unix socket, every PID in $SKE_LAB_DIR/pids/
# (stop.sh ends them, newest first, with the rest of the lab).
#
#   SKE_LAB_DIR=/tmp/lab bash test/integration/openstack-lab/start.sh
#   SKE_LAB_DIR=/tmp/lab bash test/integration/openstack-lab/start-nova.sh
#
# Ports: 8774 (Nova), 8778 (Placement), 9292 (Glance), 5672/4369/25672 (RabbitMQ).
# Set SKE_LAB_SKIP_INSTALL=1 to never call apt-get.
set -euo pipefail

LAB_DIR="${SKE_LAB_DIR:-${TMPDIR:-/tmp}/ske-openstack-lab}"
HOST=127.0.0.1
KEYSTONE_PORT="${SKE_LAB_KEYSTONE_PORT:-5000}"
REGION="${SKE_LAB_REGION:-RegionOne}"
# The same throw-away values start.sh uses; the lab exists on 127.0.0.1 only.
SERVICE_PASSWORD="lab-service-password"
DB_PASSWORD="lab-db-password"
DB_SOCKET="$LAB_DIR/mysql.sock"
PYTHON=/usr/bin/python3
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH" DEBIAN_FRONTEND=noninteractive
export no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

LAB_TAG="lab nova"
LAB_POLL_SECONDS=0.5
STARTED_AT=$(date +%s.%N)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -f "$LAB_DIR/openrc" ] || fail "no $LAB_DIR/openrc: run start.sh first"
kill -0 "$(cat "$LAB_DIR/pids/keystone.pid")" 2>/dev/null || fail "the lab's Keystone is not running"
[ -e "$LAB_DIR/pids/nova-api.pid" ] && kill -0 "$(cat "$LAB_DIR/pids/nova-api.pid")" 2>/dev/null && fail "Nova already runs from $LAB_DIR"

PACKAGES=(python3-nova python3-placement python3-glance python3-glance-store rabbitmq-server)
if [ "${SKE_LAB_SKIP_INSTALL:-0}" != 1 ]; then
  missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install apt-get-nova "${missing[@]}"
  fi
fi
printf 'nova-packages\t%s\n' "$(seconds_since "$STARTED_AT")" >>"$LAB_DIR/timing.tsv"

mkdir -p "$LAB_DIR"/{etc/nova,etc/glance,etc/placement,state/nova/instances,images,glance-staging,glance-tasks,rabbitmq/{mnesia,log,home},debs}
# The paste ini files ship only in nova-common / glance-common, whose
# maintainer scripts want dbconfig-common: take the files, skip the scripts.
fetch_paste_debs() { (cd "$LAB_DIR/debs" && apt-get download -qq nova-common glance-common >/dev/null 2>&1 && for d in *.deb; do dpkg-deb -x "$d" x; done); }
# An apt list older than the archive (or none) cannot download: refresh once.
fetch_paste_debs || { apt-get update -qq && fetch_paste_debs; } \
  || fail "could not fetch nova-common/glance-common for their paste ini files"
cp "$LAB_DIR/debs/x/usr/share/nova-common/api-paste.ini" "$LAB_DIR/etc/nova/api-paste.ini"
cp "$LAB_DIR/debs/x/usr/share/glance-common/glance-api-paste.ini" "$LAB_DIR/etc/glance/glance-api-paste.ini"

# ---------------------------------------------------------------- RabbitMQ
R="$LAB_DIR/rabbitmq"
echo '[].' >"$R/enabled_plugins"; : >"$R/rabbitmq-env.conf"
printf 'listeners.tcp.1 = %s:5672\nloopback_users.guest = true\n' "$HOST" >"$R/rabbitmq.conf"
rmq_env() {
  export HOME="$R/home" RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=5672 \
    RABBITMQ_MNESIA_BASE="$R/mnesia" RABBITMQ_LOG_BASE="$R/log" RABBITMQ_CONFIG_FILE="$R/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$R/enabled_plugins" RABBITMQ_CONF_ENV_FILE="$R/rabbitmq-env.conf" \
    RABBITMQ_PID_FILE="$R/rabbit.pid" ERL_EPMD_ADDRESS=$HOST ERL_EPMD_PORT=4369 RABBITMQ_DIST_PORT=25672 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}
( rmq_env; start_service epmd epmd -address "$HOST" -port 4369 )
sleep 0.5
( rmq_env; start_service rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server )
( rmq_env; wait_until 120 RabbitMQ /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup )
say "RabbitMQ up on $HOST:5672"
TRANSPORT="rabbit://guest:guest@$HOST:5672/"

# ---------------------------------------------------------------- databases, Keystone objects
mariadb --socket="$DB_SOCKET" <<SQL
CREATE DATABASE nova_api; CREATE DATABASE nova; CREATE DATABASE nova_cell0;
CREATE DATABASE placement; CREATE DATABASE glance;
GRANT ALL PRIVILEGES ON nova_api.* TO 'openstack'@'localhost';
GRANT ALL PRIVILEGES ON nova.* TO 'openstack'@'localhost';
GRANT ALL PRIVILEGES ON nova_cell0.* TO 'openstack'@'localhost';
GRANT ALL PRIVILEGES ON placement.* TO 'openstack'@'localhost';
GRANT ALL PRIVILEGES ON glance.* TO 'openstack'@'localhost';
FLUSH PRIVILEGES;
SQL
db_url() { echo "mysql+pymysql://openstack:$DB_PASSWORD@localhost/$1?unix_socket=$DB_SOCKET&charset=utf8"; }

# shellcheck disable=SC1091
source "$LAB_DIR/openrc"
$PYTHON - "$SERVICE_PASSWORD" "$REGION" <<'PYEOF'
import sys, openstack
pw, region = sys.argv[1:3]
c = openstack.connect(); idn = c.identity
dom = idn.find_domain('default'); proj = idn.find_project('service', domain_id=dom.id); role = idn.find_role('admin')
for name, typ, url in (('nova', 'compute', 'http://127.0.0.1:8774/v2.1'),
                       ('placement', 'placement', 'http://127.0.0.1:8778'),
                       ('glance', 'image', 'http://127.0.0.1:9292')):
    u = idn.find_user(name, domain_id=dom.id) or idn.create_user(name=name, password=pw, domain_id=dom.id, default_project_id=proj.id)
    idn.assign_project_role_to_user(proj, u, role)
    s = idn.find_service(name) or idn.create_service(name=name, type=typ)
    for iface in ('public', 'internal', 'admin'):
        idn.create_endpoint(service_id=s.id, interface=iface, url=url, region_id=region)
PYEOF

authsec() { # authsec <section> <user>
  cat <<INI
[$1]
auth_url = http://$HOST:$KEYSTONE_PORT
www_authenticate_uri = http://$HOST:$KEYSTONE_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PASSWORD
region_name = $REGION
INI
}
wrapper() { printf '#!%s\nimport sys\nfrom %s import %s\nsys.exit(%s())\n' "$PYTHON" "$2" "$3" "$3" >"$LAB_DIR/bin/$1"; chmod +x "$LAB_DIR/bin/$1"; }
wrapper nova-api nova.cmd.api main
wrapper nova-conductor nova.cmd.conductor main
wrapper nova-scheduler nova.cmd.scheduler main
wrapper nova-compute nova.cmd.compute main
wrapper nova-manage nova.cmd.manage main
wrapper glance-api glance.cmd.api main
wrapper glance-manage glance.cmd.manage main

# ---------------------------------------------------------------- Placement (uwsgi, :8778)
{ cat <<INI
[DEFAULT]
log_file = $LAB_DIR/logs/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $(db_url placement)
INI
authsec keystone_authtoken placement; } >"$LAB_DIR/etc/placement/placement.conf"
placement-manage --config-file "$LAB_DIR/etc/placement/placement.conf" db sync >"$LAB_DIR/logs/placement-manage.log" 2>&1 \
  || fail "placement db sync failed (logs/placement-manage.log)"
cat >"$LAB_DIR/etc/placement/uwsgi.ini" <<INI
[uwsgi]
plugins = python3
http-socket = $HOST:8778
wsgi-file = /usr/bin/placement-api
env = OS_PLACEMENT_CONFIG_DIR=$LAB_DIR/etc/placement
master = true
processes = 1
threads = 4
enable-threads = true
lazy-apps = true
die-on-term = true
no-orphans = true
buffer-size = 65535
rem-header = Content-Length
# uwsgi's http-socket answers HTTP/1.1 but closes the connection after each
# response without saying so; a client that reuses the connection (urllib3,
# Go, undici) can send its next request before the close arrives and gets
# "Connection reset by peer" (seen under load). Saying it lets them reconnect.
add-header = Connection: close
INI
start_service placement uwsgi --ini "$LAB_DIR/etc/placement/uwsgi.ini"

# ---------------------------------------------------------------- Glance (:9292, file store)
{ cat <<INI
[DEFAULT]
bind_host = $HOST
bind_port = 9292
workers = 1
log_file = $LAB_DIR/logs/glance-api.log
enabled_backends = fs:file
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $LAB_DIR/images
[os_glance_staging_store]
filesystem_store_datadir = $LAB_DIR/glance-staging
[os_glance_tasks_store]
filesystem_store_datadir = $LAB_DIR/glance-tasks
[database]
connection = $(db_url glance)
[paste_deploy]
flavor = keystone
config_file = $LAB_DIR/etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $LAB_DIR/state/lock
INI
authsec keystone_authtoken glance; } >"$LAB_DIR/etc/glance/glance-api.conf"
"$LAB_DIR/bin/glance-manage" --config-file "$LAB_DIR/etc/glance/glance-api.conf" db_sync >"$LAB_DIR/logs/glance-manage.log" 2>&1 \
  || fail "glance db sync failed (logs/glance-manage.log)"
start_service glance-api "$LAB_DIR/bin/glance-api" --config-file "$LAB_DIR/etc/glance/glance-api.conf"

# ---------------------------------------------------------------- Nova
NC="$LAB_DIR/etc/nova/nova.conf"
{ cat <<INI
[DEFAULT]
transport_url = $TRANSPORT
host = lab-compute
my_ip = $HOST
state_path = $LAB_DIR/state/nova
instances_path = $LAB_DIR/state/nova/instances
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = $HOST
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
metadata_workers = 1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $LAB_DIR/etc/nova/api-paste.ini
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[vnc]
enabled = false
[oslo_concurrency]
lock_path = $LAB_DIR/state/lock
[oslo_messaging_notifications]
driver = noop
INI
authsec keystone_authtoken nova; authsec placement placement; authsec neutron neutron; } >"$NC"
# nova-compute must not touch the database: its copies have no [database]
# sections. Two compute hosts, because the program puts a cluster's two load
# balancers (and its control planes) in anti-affinity server groups: with one
# host Nova would rightly refuse the second member ("No valid host").
for host in lab-compute lab-compute-2; do
  $PYTHON - "$NC" "$LAB_DIR/etc/nova/$host.conf" "$host" <<'PYEOF'
import sys, configparser
c = configparser.RawConfigParser(); c.optionxform = str; c.read(sys.argv[1])
for s in ('database', 'api_database'):
    c.remove_section(s)
c.set('DEFAULT', 'host', sys.argv[3])
with open(sys.argv[2], 'w') as f:
    c.write(f)
PYEOF
done
NM=("$LAB_DIR/bin/nova-manage" --config-file "$NC")
say "nova db sync"
{ "${NM[@]}" api_db sync && "${NM[@]}" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)" \
  && "${NM[@]}" cell_v2 create_cell --name cell1 --verbose && "${NM[@]}" db sync; } >"$LAB_DIR/logs/nova-manage.log" 2>&1 \
  || { tail -30 "$LAB_DIR/logs/nova-manage.log" >&2; fail "nova-manage failed"; }
for svc in nova-api nova-conductor nova-scheduler; do
  start_service "$svc" "$LAB_DIR/bin/$svc" --config-file "$NC" --log-file "$LAB_DIR/logs/$svc.log"
done
for host in lab-compute lab-compute-2; do
  start_service "nova-compute-$host" "$LAB_DIR/bin/nova-compute" --config-file "$LAB_DIR/etc/nova/$host.conf" --log-file "$LAB_DIR/logs/nova-compute-$host.log"
done

wait_until 60 Placement curl -sf "http://$HOST:8778/"
wait_until 90 Glance curl -sf "http://$HOST:9292/versions"
wait_until 90 "Nova API" curl -sf "http://$HOST:8774/"
wait_until 120 "both nova-compute hosts" bash -c "source '$LAB_DIR/openrc'; [ \"\$(openstack compute service list --service nova-compute -f value -c State 2>/dev/null | grep -c '^up$')\" = 2 ]"
"${NM[@]}" cell_v2 discover_hosts --verbose >>"$LAB_DIR/logs/nova-manage.log" 2>&1
printf 'nova\t%s\n' "$(seconds_since "$STARTED_AT")" >>"$LAB_DIR/timing.tsv"
say "Nova ready (fake driver), Glance and Placement answering"
