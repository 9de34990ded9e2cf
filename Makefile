# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test demo stack stack-test bench lint typecheck unit system-deps venv clean

test: venv system-deps lint typecheck unit

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,demo]'
	touch $@

# What the tests and the demo run, from Debian: etcd, nginx, and the sample stack's daemons (rsyslog
# with its TLS and Elasticsearch modules, Sinatra on puma, openssl). Installed only when missing.
APT_PACKAGES := etcd-server etcd-client nginx openssl rsyslog rsyslog-gnutls rsyslog-elasticsearch \
	ruby ruby-sinatra ruby-webrick puma

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: venv
	$(VENV)/bin/ruff check confpy tests benchmarks containers
	$(VENV)/bin/ruff format --check confpy tests benchmarks containers

typecheck: venv
	$(VENV)/bin/mypy

unit: venv system-deps
	$(PY) -m pytest -q

# The benchmarks run confpy as the images install it (containers/base/Dockerfile): Debian's python3,
# a venv, `pip install .` (not editable, so bytecode is compiled at install). The harness itself
# runs from $(VENV).
BENCH_VENV := .venv-bench
BENCH_PYTHON ?= $(firstword $(wildcard /usr/bin/python3) $(PYTHON))

$(BENCH_VENV)/.installed: pyproject.toml $(shell find confpy -name '*.py')
	@$(BENCH_PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	test -x $(BENCH_VENV)/bin/python || $(BENCH_PYTHON) -m venv $(BENCH_VENV)
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

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache
