#!/bin/sh
# The central log agent on Elastic's Logstash (Dockerfile.elastic), registered as /logstash/host:
# a TLS tcp input that requires the forwarders' certificate, JSON parsing, and the elasticsearch
# output to /elasticsearch/host. Logstash reloads its pipeline on SIGHUP and keeps the running
# one if the new one is broken. Environment as boot.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${PORT:=5000}" "${BIND_ADDR:=0.0.0.0}" "${TTL:=15}" "${CONFDIR:=/etc/confd/logstash}"
: "${ADVERTISE_ADDR:=$(hostname -i | cut -d' ' -f1)}"
LISTEN="$BIND_ADDR:$PORT"
export LISTEN

"$here/tls-pair.sh"

exec confpy exec -confdir "$CONFDIR" \
    --wait-for /elasticsearch/host --wait-for /logstash/ssl/certificate --wait-for /logstash/ssl/key \
    --register "/logstash/host=$ADVERTISE_ADDR:$PORT" --ttl "$TTL" --reload-signal HUP \
    -- /usr/share/logstash/bin/logstash -f /etc/logstash-central/pipeline.conf
