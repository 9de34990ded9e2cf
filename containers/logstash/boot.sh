#!/bin/sh
# The central log agent (the "logstash" role, played by rsyslog): TLS in from the forwarders,
# omelasticsearch out to the search node. Registered as /logstash/host. At start, tls-pair.sh
# stores a TLS pair under /logstash/ssl unless one is there; the pair is rendered from etcd.
#
# Environment: CONFPY_NODES (etcd), PORT (5000), BIND_ADDR (0.0.0.0), ADVERTISE_ADDR (this
# container's address), TTL (15), CONFDIR (/etc/confd/logstash), STACK_ROOT (prefix of every path),
# ACCESS_LOG (also write one line per app request there, for goaccess; unset: none).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${PORT:=5000}" "${BIND_ADDR:=0.0.0.0}" "${TTL:=15}" "${CONFDIR:=/etc/confd/logstash}"
: "${ADVERTISE_ADDR:=$(hostname -i | cut -d' ' -f1)}" "${STACK_ROOT:=}"
LISTEN="$BIND_ADDR:$PORT"
export LISTEN STACK_ROOT
mkdir -p "$STACK_ROOT/run" "$STACK_ROOT/var/spool/rsyslog-central" "$STACK_ROOT/var/log/rsyslog-central"

"$here/tls-pair.sh"

# rsyslog reads its config only at start: a change stops it (TERM), and the restart policy
# starts it again with the new config.
exec confpy exec -confdir "$CONFDIR" \
    --wait-for /elasticsearch/host --wait-for /logstash/ssl/certificate --wait-for /logstash/ssl/key \
    --register "/logstash/host=$ADVERTISE_ADDR:$PORT" --ttl "$TTL" --reload-signal TERM \
    -- rsyslogd -n -f "$STACK_ROOT/etc/rsyslog-central/rsyslog.conf" -i "$STACK_ROOT/run/rsyslog-central.pid"
