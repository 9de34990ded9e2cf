#!/bin/sh
# A Sinatra app on puma, registered as /sinatra/<port>/host = <address>:<port>, with its log
# forwarder (forwarder.sh) running beside it. The key lives on a lease: a clean stop deletes it at
# once, a crash lets it expire after TTL seconds, and nginx follows either way.
#
# Environment: CONFPY_NODES (etcd), PORT (4567), BIND_ADDR (0.0.0.0), ADVERTISE_ADDR (this
# container's address), INSTANCE_ID (sinatra-<port>), TTL (15), CONFDIR (/etc/confd/sinatra: no
# resources of its own), FORWARDER_CONFDIR (/etc/confd/forwarder), STACK_ROOT (prefix of every path).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${PORT:=4567}" "${BIND_ADDR:=0.0.0.0}" "${TTL:=15}" "${STACK_ROOT:=}" "${CONFDIR:=/etc/confd/sinatra}"
: "${ADVERTISE_ADDR:=$(hostname -i | cut -d' ' -f1)}" "${INSTANCE_ID:=sinatra-$PORT}"
APP_LOG="$STACK_ROOT/var/log/sinatra/app.log"
export PORT STACK_ROOT INSTANCE_ID APP_LOG
mkdir -p "$(dirname "$APP_LOG")"
touch "$APP_LOG"

"$here/forwarder.sh" &

exec confpy exec -confdir "$CONFDIR" \
    --register "/sinatra/$PORT/host=$ADVERTISE_ADDR:$PORT" --ttl "$TTL" \
    -- puma --environment production --bind "tcp://$BIND_ADDR:$PORT" --threads 1:8 "$here/config.ru"
