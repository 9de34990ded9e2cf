#!/bin/sh
# The test client: requests the load balancer registered as /nginx/host over and over and prints
# one line per answer ("200 sinatra-4561"). The target file is rendered from /nginx/host and read
# before every request, so a move of nginx needs no restart.
#
# Environment: CONFPY_NODES (etcd), INTERVAL (seconds between requests, 0.5), CONFDIR
# (/etc/confd/test-client), STACK_ROOT (prefix of every path).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${INTERVAL:=0.5}" "${CONFDIR:=/etc/confd/test-client}" "${STACK_ROOT:=}"

exec confpy exec -confdir "$CONFDIR" --wait-for /nginx/host \
    -- python3 "$here/client.py" --target-file "$STACK_ROOT/etc/test-client/target" --interval "$INTERVAL"
