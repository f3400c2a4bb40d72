#!/usr/bin/env bash
# A real, small OpenStack control plane for the integration tests: Keystone and
# Neutron (ML2, no agents, so no dataplane) from Debian bookworm's packages,
# with a private MariaDB that listens on a unix socket only. Every HTTP API
# binds 127.0.0.1. Nova is not started: the lab stack switches the cluster
# layer off, so only networks, routers and security groups are exercised.
#
#   SKE_LAB_DIR=/tmp/lab bash test/integration/openstack-lab/start.sh
#   source "$SKE_LAB_DIR/openrc"          # or OS_CLIENT_CONFIG_FILE=.../clouds.yaml OS_CLOUD=lab
#   bash test/integration/openstack-lab/stop.sh [--purge]
#
# State (configs, database, keys, logs) lives in $SKE_LAB_DIR, default
# ${TMPDIR:-/tmp}/ske-openstack-lab; nothing is written to /etc/keystone or
# /etc/neutron and no system service is started. The PID of every process this
# script starts is written to $SKE_LAB_DIR/pids/ as soon as it exists, so that
# stop.sh can end exactly those, even after a failed start.
#
# Outputs in $SKE_LAB_DIR: openrc, clouds.yaml (cloud "lab"), lab.json (what
# the tests read: endpoints, credentials, the external network's id),
# timing.tsv (phase durations) and memory.tsv (RSS and PSS per service, KiB).
#
# Needs root (apt-get, and the services run as root inside a throw-away
# machine). Set SKE_LAB_SKIP_INSTALL=1 to never call apt-get.
set -euo pipefail

LAB_DIR="${SKE_LAB_DIR:-${TMPDIR:-/tmp}/ske-openstack-lab}"
HOST=127.0.0.1
KEYSTONE_PORT="${SKE_LAB_KEYSTONE_PORT:-5000}"
NEUTRON_PORT="${SKE_LAB_NEUTRON_PORT:-9696}"
REGION="${SKE_LAB_REGION:-RegionOne}"
# Throw-away credentials of a lab that only exists on 127.0.0.1.
ADMIN_PASSWORD="lab-admin-password"
SERVICE_PASSWORD="lab-service-password"
DB_PASSWORD="lab-db-password"
# The external network: flat, on a physical network no agent will ever wire,
# with a documentation range (RFC 5737) so router gateways get an address.
EXTERNAL_NETWORK=public
EXTERNAL_CIDR=203.0.113.0/24

# The Debian OpenStack libraries are installed for Debian's python only.
PYTHON=/usr/bin/python3
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
# Nothing here may go through a proxy or pick up someone else's cloud.
export no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
while read -r var; do unset "$var"; done < <(compgen -e | grep '^OS_' || true)

PACKAGES=(python3-keystone python3-neutron python3-openstackclient python3-pymysql
  uwsgi-core uwsgi-plugin-python3 mariadb-server curl jq procps)

LAB_TAG=lab
LAB_POLL_SECONDS=0.3
STARTED_AT=$(date +%s.%N)
PHASE_AT=$STARTED_AT
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Records how long the phase that just ended took, for the run's report.
phase_done() {
  printf '%s\t%s\n' "$1" "$(seconds_since "$PHASE_AT")" >>"$LAB_DIR/timing.tsv"
  PHASE_AT=$(date +%s.%N)
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# ---------------------------------------------------------------- preconditions
[ "$(id -u)" = 0 ] || fail "run as root (apt-get, and the services run as root)"
for pidfile in "$LAB_DIR"/pids/*.pid; do
  [ -e "$pidfile" ] || continue
  if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    fail "a lab is already running from $LAB_DIR ($(basename "$pidfile")); stop it with stop.sh"
  fi
done
for port in "$KEYSTONE_PORT" "$NEUTRON_PORT"; do
  port_in_use "$port" && fail "port $port on $HOST is taken; set SKE_LAB_KEYSTONE_PORT / SKE_LAB_NEUTRON_PORT"
done

# A fresh state directory every time: the lab is cheap to rebuild, and a
# database left over from another run would make the tests' counts lie.
# Only what this script owns is removed, never the directory a caller gave.
mkdir -p "$LAB_DIR"
rm -rf "${LAB_DIR:?}"/{etc,logs,pids,bin,mysql,state,keys,openrc,clouds.yaml,lab.json,timing.tsv,memory.tsv}
mkdir -p "$LAB_DIR"/{etc/keystone,etc/neutron,logs,pids,bin,mysql,state/neutron,state/lock,keys/fernet,keys/credential}
: >"$LAB_DIR/timing.tsv"

# ---------------------------------------------------------------- packages
missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
}
mapfile -t MISSING < <(missing_packages)
if [ ${#MISSING[@]} -eq 0 ]; then
  say "packages already installed"
elif [ "${SKE_LAB_SKIP_INSTALL:-0}" = 1 ]; then
  fail "missing packages and SKE_LAB_SKIP_INSTALL=1: ${MISSING[*]}"
else
  say "installing ${#MISSING[@]} packages: ${MISSING[*]}"
  apt_install apt-get "${MISSING[@]}"
  say "packages installed"
fi
phase_done packages

# ---------------------------------------------------------------- MariaDB
# Unix socket only (--skip-networking): the services reach it through
# pymysql's unix_socket parameter, so the lab opens no database port at all.
DB_SOCKET="$LAB_DIR/mysql.sock"
mariadb-install-db --no-defaults --datadir="$LAB_DIR/mysql" --user=root \
  --auth-root-authentication-method=socket --skip-test-db >"$LAB_DIR/logs/mariadb-install.log" 2>&1 \
  || fail "mariadb-install-db failed (see $LAB_DIR/logs/mariadb-install.log)"
start_service mariadb /usr/sbin/mariadbd --no-defaults --user=root --datadir="$LAB_DIR/mysql" \
  --socket="$DB_SOCKET" --skip-networking --pid-file="$LAB_DIR/mysql/mariadbd.pid" \
  --log-error="$LAB_DIR/logs/mariadb.log" --innodb-buffer-pool-size=32M --max-connections=200 \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
wait_until 60 MariaDB mariadb-admin --socket="$DB_SOCKET" ping
mariadb --socket="$DB_SOCKET" <<SQL
CREATE DATABASE keystone;
CREATE DATABASE neutron;
CREATE USER 'openstack'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON keystone.* TO 'openstack'@'localhost';
GRANT ALL PRIVILEGES ON neutron.* TO 'openstack'@'localhost';
SQL
db_url() { echo "mysql+pymysql://openstack:$DB_PASSWORD@localhost/$1?unix_socket=$DB_SOCKET&charset=utf8"; }
say "MariaDB up (socket $DB_SOCKET)"
phase_done mariadb

# ---------------------------------------------------------------- Keystone
KEYSTONE_URL="http://$HOST:$KEYSTONE_PORT"
KEYSTONE_CONF="$LAB_DIR/etc/keystone/keystone.conf"
cat >"$KEYSTONE_CONF" <<EOF
[DEFAULT]
log_file = $LAB_DIR/logs/keystone.log
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $LAB_DIR/keys/fernet
[credential]
key_repository = $LAB_DIR/keys/credential
[cache]
enabled = false
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
keystone_manage() { keystone-manage --config-file "$KEYSTONE_CONF" "$@" >>"$LAB_DIR/logs/keystone-manage.log" 2>&1; }
keystone_manage db_sync || fail "keystone db_sync failed (see $LAB_DIR/logs/keystone-manage.log)"
keystone_manage fernet_setup --keystone-user root --keystone-group root
keystone_manage credential_setup --keystone-user root --keystone-group root
keystone_manage bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
  --bootstrap-service-name keystone --bootstrap-region-id "$REGION" \
  --bootstrap-admin-url "$KEYSTONE_URL/v3/" --bootstrap-internal-url "$KEYSTONE_URL/v3/" \
  --bootstrap-public-url "$KEYSTONE_URL/v3/" || fail "keystone bootstrap failed"

cat >"$LAB_DIR/etc/keystone/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = $HOST:$KEYSTONE_PORT
wsgi-file = /usr/bin/keystone-wsgi-public
env = OS_KEYSTONE_CONFIG_FILES=$KEYSTONE_CONF
master = true
processes = 1
threads = 4
enable-threads = true
lazy-apps = true
die-on-term = true
no-orphans = true
buffer-size = 65535
chdir = $LAB_DIR
# uwsgi's http-socket answers HTTP/1.1 but closes the connection after each
# response without saying so; a client that reuses the connection (urllib3,
# Go, undici) can send its next request before the close arrives and gets
# "Connection reset by peer" (seen under load). Saying it lets them reconnect.
add-header = Connection: close
EOF
start_service keystone /usr/bin/uwsgi --ini "$LAB_DIR/etc/keystone/uwsgi.ini"
wait_until 60 Keystone curl -sf "$KEYSTONE_URL/v3"
say "Keystone up on $KEYSTONE_URL"
phase_done keystone

# ---------------------------------------------------------------- client config
cat >"$LAB_DIR/openrc" <<EOF
# The lab's admin, for the openstack CLI: source this file.
export OS_AUTH_URL=$KEYSTONE_URL/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASSWORD
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_INTERFACE=public
export no_proxy=127.0.0.1,localhost
EOF
cat >"$LAB_DIR/clouds.yaml" <<EOF
clouds:
  lab:
    auth:
      auth_url: $KEYSTONE_URL/v3
      username: admin
      password: $ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF

# issue_token <user> <password> <project>: prints a project-scoped token.
issue_token() {
  curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$KEYSTONE_URL/v3/auth/tokens" -d "$(jq -n \
    --arg user "$1" --arg password "$2" --arg project "$3" '{auth: {
      identity: {methods: ["password"], password: {user: {name: $user, domain: {id: "default"}, password: $password}}},
      scope: {project: {name: $project, domain: {id: "default"}}}}}')" \
    | awk 'tolower($1) == "x-subject-token:" { print $2 }' | tr -d '\r'
}
# api <method> <url> [json]: one authenticated call; prints the response body.
api() {
  curl -sf -X "$1" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$2" ${3:+-d "$3"} \
    || fail "$1 $2 failed"
}

# Neutron's service identity and its catalog entry: plain REST calls, because
# each `openstack` CLI start costs about two seconds of imports.
TOKEN=$(issue_token admin "$ADMIN_PASSWORD" admin)
[ -n "$TOKEN" ] || fail "Keystone issued no token for admin"
service_project=$(api POST "$KEYSTONE_URL/v3/projects" '{"project": {"name": "service", "domain_id": "default"}}' | jq -r .project.id)
neutron_user=$(api POST "$KEYSTONE_URL/v3/users" "$(jq -n --arg pw "$SERVICE_PASSWORD" --arg p "$service_project" \
  '{user: {name: "neutron", password: $pw, domain_id: "default", default_project_id: $p}}')" | jq -r .user.id)
admin_role=$(api GET "$KEYSTONE_URL/v3/roles?name=admin" | jq -r '.roles[0].id')
api PUT "$KEYSTONE_URL/v3/projects/$service_project/users/$neutron_user/roles/$admin_role" >/dev/null
network_service=$(api POST "$KEYSTONE_URL/v3/services" '{"service": {"name": "neutron", "type": "network"}}' | jq -r .service.id)
for interface in public internal admin; do
  api POST "$KEYSTONE_URL/v3/endpoints" "$(jq -n --arg s "$network_service" --arg i "$interface" \
    --arg r "$REGION" --arg u "http://$HOST:$NEUTRON_PORT" '{endpoint: {service_id: $s, interface: $i, region_id: $r, url: $u}}')" >/dev/null
done
say "registered the network service and its neutron user"
phase_done catalog

# ---------------------------------------------------------------- Neutron
NEUTRON_CONF="$LAB_DIR/etc/neutron/neutron.conf"
ML2_CONF="$LAB_DIR/etc/neutron/ml2_conf.ini"
service_auth() { # the [section] body a Neutron client of another service needs
  cat <<EOF
auth_url = $KEYSTONE_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = neutron
password = $SERVICE_PASSWORD
region_name = $REGION
EOF
}
cat >"$NEUTRON_CONF" <<EOF
[DEFAULT]
bind_host = $HOST
bind_port = $NEUTRON_PORT
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
allow_overlapping_ips = true
api_paste_config = $LAB_DIR/etc/neutron/api-paste.ini
state_path = $LAB_DIR/state/neutron
log_file = $LAB_DIR/logs/neutron-server.log
# The API in the main process: one less forked interpreter (~150 MiB).
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
# No message broker: no agent will ever listen, so the in-process fake driver
# swallows the notifications.
transport_url = fake:/
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
[database]
connection = $(db_url neutron)
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_URL
$(service_auth)
# Only so that background notifiers can authenticate; with no Nova or
# Placement in the catalog they give up quietly.
[nova]
$(service_auth)
[placement]
$(service_auth)
[oslo_concurrency]
lock_path = $LAB_DIR/state/lock
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[agent]
root_helper = /bin/false
EOF
# Every upstream mechanism driver (openvswitch, linuxbridge, ovn) binds a
# port only for a live agent or an OVN database, and Nova (start-nova.sh)
# puts a server in ERROR when its port does not bind. `lab_bind_all` binds
# any port Nova asks for as an OVS port without plugging anything: there is
# no dataplane in the lab, and the fake compute driver needs none. Ports no
# server asks for (router interfaces) stay unbound, as before.
mkdir -p "$LAB_DIR/pylib/lab_bind_all-1.0.dist-info"
cat >"$LAB_DIR/pylib/lab_bind_all.py" <<'PYEOF'
"""ML2 mechanism driver of the lab: binds every port, plugs nothing."""
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class LabBindAll(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        segment = next(iter(context.segments_to_bind), None)
        if segment is not None:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True},
                                status=constants.PORT_STATUS_ACTIVE)
PYEOF
printf 'Metadata-Version: 2.1\nName: lab-bind-all\nVersion: 1.0\n' >"$LAB_DIR/pylib/lab_bind_all-1.0.dist-info/METADATA"
printf '[neutron.ml2.mechanism_drivers]\nlab_bind_all = lab_bind_all:LabBindAll\n' >"$LAB_DIR/pylib/lab_bind_all-1.0.dist-info/entry_points.txt"
cat >"$ML2_CONF" <<EOF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = lab_bind_all
extension_drivers = port_security
[ml2_type_flat]
flat_networks = external
[ml2_type_vxlan]
vni_ranges = 1:4000
[securitygroup]
enable_security_group = true
EOF
cp /usr/lib/python3/dist-packages/neutron/tests/etc/api-paste.ini "$LAB_DIR/etc/neutron/api-paste.ini"

# Entry points of our own: the /usr/bin ones come with neutron-common, whose
# maintainer scripts ask debconf questions and write /etc/neutron.
for entry in "neutron-server neutron.cmd.eventlet.server" "neutron-db-manage neutron.db.migration.cli"; do
  set -- $entry
  printf '#!%s\nimport sys\nfrom %s import main\nsys.exit(main())\n' "$PYTHON" "$2" >"$LAB_DIR/bin/$1"
  chmod 755 "$LAB_DIR/bin/$1"
done
"$LAB_DIR/bin/neutron-db-manage" --config-file "$NEUTRON_CONF" --config-file "$ML2_CONF" upgrade heads \
  >"$LAB_DIR/logs/neutron-db-manage.log" 2>&1 \
  || { tail -20 "$LAB_DIR/logs/neutron-db-manage.log" >&2; fail "neutron database migration failed"; }
say "Neutron database migrated"
phase_done neutron-migrate

NEUTRON_URL="http://$HOST:$NEUTRON_PORT"
PYTHONPATH="$LAB_DIR/pylib" start_service neutron-server "$LAB_DIR/bin/neutron-server" --config-file "$NEUTRON_CONF" --config-file "$ML2_CONF"
wait_until 120 "Neutron" curl -sf "$NEUTRON_URL/"
# An authenticated round trip proves keystonemiddleware accepts our tokens.
TOKEN=$(issue_token admin "$ADMIN_PASSWORD" admin)
wait_until 60 "Neutron (authenticated)" curl -sf -H "X-Auth-Token: $TOKEN" "$NEUTRON_URL/v2.0/networks"
say "Neutron up on $NEUTRON_URL"
phase_done neutron-start

# ---------------------------------------------------------------- external network
external_network_id=$(api POST "$NEUTRON_URL/v2.0/networks" "$(jq -n --arg n "$EXTERNAL_NETWORK" '{network: {
  name: $n, "router:external": true, shared: false,
  "provider:network_type": "flat", "provider:physical_network": "external"}}')" | jq -r .network.id)
api POST "$NEUTRON_URL/v2.0/subnets" "$(jq -n --arg net "$external_network_id" --arg cidr "$EXTERNAL_CIDR" '{subnet: {
  name: "public-subnet", network_id: $net, ip_version: 4, cidr: $cidr, enable_dhcp: false}}')" >/dev/null
admin_project=$(api GET "$KEYSTONE_URL/v3/projects?name=admin" | jq -r '.projects[0].id')
say "external network $EXTERNAL_NETWORK: $external_network_id ($EXTERNAL_CIDR)"
phase_done external-network

# What the tests read. The password is the lab's throw-away one.
jq -n --arg keystone "$KEYSTONE_URL/v3" --arg neutron "$NEUTRON_URL" --arg region "$REGION" \
  --arg password "$ADMIN_PASSWORD" --arg project "$admin_project" --arg net "$external_network_id" \
  --arg netName "$EXTERNAL_NETWORK" --arg cidr "$EXTERNAL_CIDR" --arg dir "$LAB_DIR" '{
    labDir: $dir, keystoneUrl: $keystone, neutronUrl: $neutron, region: $region,
    username: "admin", password: $password, projectName: "admin", projectId: $project, domainId: "default",
    externalNetwork: {id: $net, name: $netName, cidr: $cidr}}' >"$LAB_DIR/lab.json"

# ---------------------------------------------------------------- report
# RSS of each service: the recorded PID plus every process below it (uwsgi
# and neutron-server fork workers).
: >"$LAB_DIR/memory.tsv"
total_rss=0 total_pss=0
for pidfile in "$LAB_DIR"/pids/*.pid; do
  name=$(basename "$pidfile" .pid); pid=$(cat "$pidfile")
  rss=$(rss_kib "$pid"); pss=$(pss_kib "$pid")
  total_rss=$(( total_rss + rss )); total_pss=$(( total_pss + pss ))
  printf '%s\t%s\t%s\t%s\n' "$name" "$pid" "$rss" "$pss" >>"$LAB_DIR/memory.tsv"
done
printf 'total\t-\t%s\t%s\n' "$total_rss" "$total_pss" >>"$LAB_DIR/memory.tsv"
printf '%s\t%s\n' total "$(seconds_since "$STARTED_AT")" >>"$LAB_DIR/timing.tsv"

say "READY in $(seconds_since "$STARTED_AT")s; state in $LAB_DIR"
awk -F'\t' '$1 != "total" { printf "  %-18s %5.1fs\n", $1, $2 }' "$LAB_DIR/timing.tsv"
awk -F'\t' '{ printf "  %-15s pid %-8s RSS %5.0f MiB  PSS %5.0f MiB\n", $1, $2, $3 / 1024, $4 / 1024 }' "$LAB_DIR/memory.tsv"
echo "  source $LAB_DIR/openrc   (or OS_CLIENT_CONFIG_FILE=$LAB_DIR/clouds.yaml OS_CLOUD=lab)"
