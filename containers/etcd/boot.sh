#!/bin/sh
# etcd, the registry every other container finds the others through. etcd reads its settings from
# ETCD_* variables (ETCD_NAME, ETCD_DATA_DIR, ETCD_LISTEN_CLIENT_URLS, ...): the Dockerfile sets a
# single-member default, the loopback demo its own ports and data directory.
set -eu
mkdir -p "${ETCD_DATA_DIR:?set ETCD_DATA_DIR}"
exec etcd
