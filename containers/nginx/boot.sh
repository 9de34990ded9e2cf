#!/bin/sh
# nginx, the load balancer in front of the Sinatra apps, registered as /nginx/host. Its whole
# config is rendered from /sinatra/*/host; every change is checked with `nginx -t` and applied
# with `nginx -s reload` (the resource's check_cmd and reload_cmd).
#
# Environment: CONFPY_NODES (etcd), PORT (80), BIND_ADDR (0.0.0.0), ADVERTISE_ADDR (this
# container's address), TTL (15), CONFDIR (/etc/confd/nginx), STACK_ROOT (prefix of every path).
set -eu
: "${PORT:=80}" "${BIND_ADDR:=0.0.0.0}" "${TTL:=15}" "${CONFDIR:=/etc/confd/nginx}" "${STACK_ROOT:=}"
: "${ADVERTISE_ADDR:=$(hostname -i | cut -d' ' -f1)}"
LISTEN="$BIND_ADDR:$PORT"
export LISTEN STACK_ROOT
mkdir -p "$STACK_ROOT/run" "$STACK_ROOT/var/lib/nginx"

exec confpy exec -confdir "$CONFDIR" \
    --register "/nginx/host=$ADVERTISE_ADDR:$PORT" --ttl "$TTL" \
    -- nginx -e stderr -c "$STACK_ROOT/etc/nginx/nginx.conf"
