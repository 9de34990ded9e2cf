#!/bin/sh
# The log forwarder beside a Sinatra app: rsyslog tailing the app's log and shipping it over TLS
# to the central agent. confpy waits for /logstash/host and the TLS pair, renders the forwarder's
# config and certificate files from them (confdir FORWARDER_CONFDIR, default
# /etc/confd/forwarder), then runs rsyslog. rsyslog reads its config only at start, so on a
# change confpy stops it (TERM) and this loop starts it again with the new config.
set -eu
: "${FORWARDER_CONFDIR:=/etc/confd/forwarder}" "${STACK_ROOT:=}"
export STACK_ROOT
mkdir -p "$STACK_ROOT/run" "$STACK_ROOT/var/spool/rsyslog-forwarder"

while :; do
    confpy exec -confdir "$FORWARDER_CONFDIR" \
        --wait-for /logstash/host --wait-for /logstash/ssl/certificate --wait-for /logstash/ssl/key \
        --reload-signal TERM \
        -- rsyslogd -n -f "$STACK_ROOT/etc/rsyslog-forwarder/rsyslog.conf" -i "$STACK_ROOT/run/rsyslog-forwarder.pid" ||
        echo "forwarder: confpy exec exited with status $?; starting again" >&2
    sleep 1
done
