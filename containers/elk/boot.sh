#!/bin/sh
# The search node: osmem-server, an OpenSearch-API emulator (Elasticsearch and Kibana are not
# packaged by Debian; see Dockerfile.elastic for the real ones), registered as /elasticsearch/host.
#
# Environment: CONFPY_NODES (etcd), PORT (9200), BIND_ADDR (0.0.0.0), ADVERTISE_ADDR (this
# container's address), TTL (lease of the registration, 15 s), CONFDIR (/etc/confd/elk).
set -eu
: "${PORT:=9200}" "${BIND_ADDR:=0.0.0.0}" "${TTL:=15}" "${CONFDIR:=/etc/confd/elk}"
: "${ADVERTISE_ADDR:=$(hostname -i | cut -d' ' -f1)}"
: "${OSMEM_SERVER_BIN:=$(python3 -c 'import osmem_server; print(osmem_server.resolve_binary())')}"

exec confpy exec -confdir "$CONFDIR" \
    --register "/elasticsearch/host=$ADVERTISE_ADDR:$PORT" --ttl "$TTL" \
    -- "$OSMEM_SERVER_BIN" -addr "$BIND_ADDR:$PORT" -no-stdin-watch
