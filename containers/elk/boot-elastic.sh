#!/bin/sh
# Elasticsearch (single node, security off) registered as /elasticsearch/host, with Kibana beside
# it on port 5601 (Dockerfile.elastic). Environment as boot.sh: PORT (9200), ADVERTISE_ADDR, TTL,
# CONFDIR.
set -eu
: "${PORT:=9200}" "${TTL:=15}" "${CONFDIR:=/etc/confd/elk}"
: "${ADVERTISE_ADDR:=$(hostname -i | cut -d' ' -f1)}"

/usr/share/kibana/bin/kibana --server.host=0.0.0.0 --elasticsearch.hosts="http://127.0.0.1:$PORT" \
    >/tmp/kibana.log 2>&1 &

exec confpy exec -confdir "$CONFDIR" \
    --register "/elasticsearch/host=$ADVERTISE_ADDR:$PORT" --ttl "$TTL" \
    -- /usr/share/elasticsearch/bin/elasticsearch -E discovery.type=single-node \
        -E xpack.security.enabled=false -E network.host=0.0.0.0 -E http.port="$PORT"
