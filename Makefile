# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test demo stack stack-test swarm swarm-test swarm-down bench lint typecheck unit system-deps venv clean fuzz-go

test: venv system-deps lint typecheck unit

venv: $(VENV)/.installed

# Debian's packages, as root or through sudo: $(call apt-install,PACKAGES). dpkg's progress lines
# are dropped; errors still reach stderr.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
apt-install = $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends $(1) >/dev/null

# $(call ensure-venv,PYTHON,DIR): a venv in DIR that has pip. Debian's python3 lacks ensurepip until
# python3-venv is installed (`python3 -m venv --help` works without it, `python3 -m venv` then
# leaves a venv with no pip); a venv left like that, or with a dangling interpreter, is rebuilt.
define ensure-venv
@$(1) -c 'import ensurepip' 2>/dev/null || { echo "installing python3-venv: $(1) has no ensurepip"; \
	$(call apt-install,python3-venv); }
@$(2)/bin/python -m pip --version >/dev/null 2>&1 || { echo "creating $(2)"; rm -rf $(2) && $(1) -m venv $(2); }
endef

# $(PY) is a prerequisite so that a venv whose interpreter went away (make sees a dangling link
# as missing) is rebuilt although its stamp is there.
$(PY): ;

$(VENV)/.installed: pyproject.toml $(PY)
	$(call ensure-venv,$(PYTHON),$(VENV))
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,demo]'
	touch $@

# What the tests and the demo run, from Debian: etcd, nginx, and the sample stack's daemons (rsyslog
# with its TLS and Elasticsearch modules, Sinatra on puma, openssl), Go 1.19 (confd's go.mod) for
# the Go template differential test, the demo's traffic dashboard (goaccess), the browser its test
# opens it in (chromium), and curl for the query it prints; redis and zookeeper (its server jar and
# a Java runtime) for the redis and zookeeper backends' tests; mkfs.ext4 and mount for the ext4
# images the writer's fsync order is judged on. Installed only when missing.
APT_PACKAGES := etcd-server etcd-client nginx openssl rsyslog rsyslog-gnutls rsyslog-elasticsearch \
	ruby ruby-sinatra ruby-webrick puma golang-go goaccess chromium curl redis-server zookeeper \
	e2fsprogs mount

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(call apt-install,$$missing); \
	fi

lint: venv
	$(VENV)/bin/ruff check confpy tests benchmarks containers deploy
	$(VENV)/bin/ruff format --check confpy tests benchmarks containers deploy
	$(VENV)/bin/lint-imports

typecheck: venv
	$(VENV)/bin/mypy

unit: venv system-deps
	$(PY) -m pytest -q

# A long differential run of the Go engine against the real Go (tests/support/godiff.py) with a fresh seed;
# FUZZ_SEED=N repeats one, FUZZ_COUNT=N sets the number of templates (default 50000).
fuzz-go: venv system-deps
	$(PY) -m tests.support.godiff

# The benchmarks run confpy as the images install it (containers/base/Dockerfile): Debian's python3,
# a venv, `pip install .` (not editable, so bytecode is compiled at install). The harness itself
# runs from $(VENV). CONFD_BIN=/path/to/confd adds confd to the versus_* scenarios (benchmarks/versus.py),
# measured in the same rounds; without it they say the comparison was skipped.
BENCH_VENV := .venv-bench
BENCH_PYTHON ?= $(firstword $(wildcard /usr/bin/python3) $(PYTHON))

$(BENCH_VENV)/bin/python: ;

# build/ goes first: setuptools reuses build/lib, and a module moved or removed since the last
# install would be installed still (the old backends/etcd.py beside backends/etcd/ was).
$(BENCH_VENV)/.installed: pyproject.toml $(BENCH_VENV)/bin/python $(shell find confpy -name '*.py')
	$(call ensure-venv,$(BENCH_PYTHON),$(BENCH_VENV))
	rm -rf build
	$(BENCH_VENV)/bin/python -m pip install -q .
	touch $@

bench: venv system-deps $(BENCH_VENV)/.installed
	$(PY) benchmarks/run.py --python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# The sample stack on 127.0.0.1 without Docker (containers/demo.py). DEMO_ARGS="--duration 0" runs
# until Ctrl-C.
demo: venv system-deps
	$(PY) containers/demo.py $(DEMO_ARGS)

# The same stack in Docker (containers/compose.yaml), nginx on 127.0.0.1:8080; starts Debian's
# dockerd by hand when no engine runs. stack-test builds it, checks requests, and tears it down;
# it is skipped, saying why, where no Docker engine can be started. `make test` never needs Docker.
stack:
	containers/stack.sh up

stack-test:
	containers/stack.sh test

# The same stack across a 3-node Docker Swarm on this machine (containers/swarm.sh, docs/swarm.md):
# three dockerds in network namespaces on a bridge of their own, a private registry, the images
# built once. `swarm` brings it up and prints DOCKER_HOST= and NGINX_URL=; `swarm-down` removes it;
# swarm-test brings it up, checks it (a node lost, a rolling update), prints figures and tears it
# down; it is skipped, saying why, where no dockerd can run. Not part of `make test`.
swarm:
	containers/swarm.sh up

swarm-test:
	containers/swarm.sh test

swarm-down:
	containers/swarm.sh down

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache
