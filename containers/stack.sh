#!/bin/sh
# The sample stack in Docker: `stack.sh up` runs containers/compose.yaml in the foreground (Ctrl-C
# stops and removes it); `stack.sh test` builds it, checks that nginx on 127.0.0.1:8080 spreads
# requests over the apps, and removes it again.
#
# Where no Docker engine answers, Debian's docker.io is installed and its dockerd started by hand
# (socket, data and pid under STACK_DOCKER_DIR, default /var/lib/confpy-docker) and stopped at
# the end. Where debian:bookworm-slim cannot be pulled, a bookworm base is built with debootstrap
# from the machine's Debian mirror. On it the shared image, containers/base/Dockerfile, is built
# as CONFPY_BASE (default confpy-base), then compose builds every service image from that one.
# `test` exits 0 with "SKIPPED" when no engine can be started.
set -eu
mode=${1:-up}
case "$mode" in up | test) ;; *) echo "usage: $0 up|test" >&2; exit 2 ;; esac
repo=$(cd "$(dirname "$0")/.." && pwd)
state=${STACK_DOCKER_DIR:-/var/lib/confpy-docker}
project=confpy-demo
started_dockerd=""

say() { echo "stack: $*"; }

skip_or_fail() {
    if [ "$mode" = test ]; then
        say "SKIPPED: $*"
        exit 0
    fi
    say "$*" >&2
    exit 1
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

engine_up() { docker info >/dev/null 2>&1; }

start_engine() {
    engine_up && return 0
    export DOCKER_HOST="unix://$state/docker.sock"
    engine_up && return 0
    command -v dockerd >/dev/null 2>&1 || apt_install docker.io >/dev/null || return 1
    command -v docker >/dev/null 2>&1 || return 1
    mkdir -p "$state"
    say "starting dockerd (log: $state/dockerd.log)"
    dockerd -H "$DOCKER_HOST" --data-root "$state/data" --exec-root "$state/exec" \
        --pidfile "$state/dockerd.pid" >"$state/dockerd.log" 2>&1 &
    started_dockerd=$!
    tries=0
    until engine_up; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ] || ! kill -0 "$started_dockerd" 2>/dev/null; then
            tail -5 "$state/dockerd.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

stop_engine() {
    [ -n "$started_dockerd" ] || return 0
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
}

compose() {
    if command -v docker-compose >/dev/null 2>&1; then
        docker-compose -p "$project" -f "$repo/containers/compose.yaml" "$@"
    else
        docker compose -p "$project" -f "$repo/containers/compose.yaml" "$@"
    fi
}

# The base image: pulled if possible, else debootstrapped from the machine's own Debian mirror.
ensure_base() {
    BASE=${BASE:-debian:bookworm-slim}
    docker image inspect "$BASE" >/dev/null 2>&1 && return 0
    docker pull "$BASE" >/dev/null 2>&1 && return 0
    BASE=confpy-demo/bookworm:minbase
    export BASE
    docker image inspect "$BASE" >/dev/null 2>&1 && return 0
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap >/dev/null || return 1
    mirror=$(sed -n 's/^URIs: *//p; s/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\) .*/\2/p' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | grep -v security | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$(mktemp -d)
    say "building a bookworm base with debootstrap from $mirror"
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1; then
        rm -rf "$rootfs"
        return 1
    fi
    tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
    status=$?
    rm -rf "$rootfs"
    return "$status"
}

# Only what the images copy: the build context stays small whatever lies in the work tree.
stage_context() {
    CONFPY_CONTEXT=$(mktemp -d)
    export CONFPY_CONTEXT
    (cd "$repo" && tar -c --exclude=__pycache__ pyproject.toml README.md confpy conf.d templates containers) |
        tar -C "$CONFPY_CONTEXT" -x
}

cleanup() {
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "${CONFPY_CONTEXT:-/nonexistent}"
    stop_engine
}

command -v docker >/dev/null 2>&1 || apt_install docker.io >/dev/null 2>&1 ||
    skip_or_fail "no docker client, and docker.io cannot be installed"
start_engine || skip_or_fail "no Docker engine could be started (see $state/dockerd.log)"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 ||
    apt_install docker-compose >/dev/null || skip_or_fail "neither docker-compose nor docker compose"
mkdir -p "$state"
trap cleanup EXIT
trap 'exit 130' INT TERM
ensure_base || skip_or_fail "no base image: cannot pull debian:bookworm-slim nor debootstrap one"
stage_context
# The machine's own extra CAs (a TLS-inspecting proxy's), so that pip in the build trusts them too.
EXTRA_CA=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
# Every service image starts from CONFPY_BASE, which compose cannot order before them: built here.
CONFPY_BASE=${CONFPY_BASE:-confpy-base}
export CONFPY_BASE DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
say "building $CONFPY_BASE (on $BASE), then the images"
{
    docker build --quiet --tag "$CONFPY_BASE" --build-arg BASE="$BASE" --build-arg EXTRA_CA="$EXTRA_CA" \
        --file "$CONFPY_CONTEXT/containers/base/Dockerfile" "$CONFPY_CONTEXT" &&
        compose build --quiet
} >"$state/build.log" 2>&1 || {
    tail -30 "$state/build.log" >&2
    say "FAILED: the images did not build (log: $state/build.log)" >&2
    exit 1
}

if [ "$mode" = up ]; then
    say "nginx on http://127.0.0.1:8080/ once the apps have registered; Ctrl-C stops and removes the stack"
    compose up --remove-orphans
    exit 0
fi

compose up -d --remove-orphans >>"$state/build.log" 2>&1
seen=""
deadline=$(($(date +%s) + 120))
while [ "$(date +%s)" -lt "$deadline" ]; do
    answer=$(python3 -c 'import urllib.request as u; print(u.urlopen("http://127.0.0.1:8080/", timeout=2).read().decode().strip())' 2>/dev/null || true)
    case "$answer" in
        sinatra-*) case " $seen " in *" $answer "*) ;; *) seen="$seen $answer" ;; esac ;;
    esac
    [ "$(echo $seen | wc -w)" -ge 5 ] && break
    sleep 0.2
done
if [ "$(echo $seen | wc -w)" -lt 5 ]; then
    compose ps
    compose logs --tail 20
    say "FAILED: nginx on 127.0.0.1:8080 served only [${seen# }] within 120 s"
    exit 1
fi
say "nginx on 127.0.0.1:8080 spreads requests over all five apps:$seen"

# The apps' request logs, shipped over TLS by their forwarders, counted in the search node.
count_apps='
import json, sys, time, urllib.request as u
query = json.dumps({"size": 0, "aggs": {"apps": {"terms": {"field": "app.keyword"}}}}).encode()
for _ in range(60):
    try:
        request = u.Request("http://127.0.0.1:9200/logs/_search", query, {"Content-Type": "application/json"})
        apps = [b["key"] for b in json.load(u.urlopen(request, timeout=2))["aggregations"]["apps"]["buckets"]]
    except OSError:
        apps = []
    if len(apps) >= 5:
        print(" ".join(sorted(apps)))
        sys.exit(0)
    time.sleep(0.5)
print(" ".join(sorted(apps)))
sys.exit(1)'
if ! apps=$(compose exec -T -e PORT=9200 elk python3 -c "$count_apps"); then
    compose logs --tail 20 logstash sinatra-1
    say "FAILED: log events in the search node only from [$apps]"
    exit 1
fi
say "PASSED: log events from every app in the search node: $apps"
