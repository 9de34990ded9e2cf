#!/bin/sh
# The log pipeline's TLS pair: make a self-signed certificate (CN and DNS name "logstash") and its
# key, and store both under /logstash/ssl in one etcd transaction that succeeds only if no
# certificate is there yet. The first instance's pair wins; every instance of the central agent
# and every forwarder then renders the pair from etcd, so both ends present and trust the same
# certificate. Retries for 30 s while etcd is not reachable yet.
#
# Environment: CONFPY_NODES (etcd endpoints, comma-separated URLs; http://127.0.0.1:2379).
set -eu
: "${CONFPY_NODES:=http://127.0.0.1:2379}"

# A PEM file as one Go-quoted string, the form `etcdctl txn` reads values in.
quoted() { printf '"%s"' "$(awk '{ printf "%s\\n", $0 }' "$1")"; }

new=$(mktemp -d)
trap 'rm -rf "$new"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj /CN=logstash -addext subjectAltName=DNS:logstash \
    -keyout "$new/key.pem" -out "$new/certificate.pem" 2>/dev/null
# Compare, blank line, success requests, blank line, failure requests (none), blank line.
# `put --`: a PEM value starts with dashes, which etcdctl would otherwise read as a flag.
request() {
    printf 'create("/logstash/ssl/certificate") = "0"\n\nput -- /logstash/ssl/certificate %s\nput -- /logstash/ssl/key %s\n\n\n' \
        "$(quoted "$new/certificate.pem")" "$(quoted "$new/key.pem")"
}
tries=0
until outcome=$(request | etcdctl --endpoints "$CONFPY_NODES" --dial-timeout 2s txn 2>&1); do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
        echo "logstash: cannot store the TLS pair in etcd at $CONFPY_NODES: $outcome" >&2
        exit 1
    fi
    sleep 1
done
case "$outcome" in
    SUCCESS*) echo "logstash: stored a new TLS certificate and key under /logstash/ssl" ;;
    *) echo "logstash: using the TLS certificate and key already under /logstash/ssl" ;;
esac
