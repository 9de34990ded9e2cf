# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := etcd-server etcd-client nginx

.PHONY: test demo bench lint typecheck unit system-deps venv clean

test: venv system-deps lint typecheck unit

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The tests run a real etcd and a real nginx; install them from Debian when they are missing.
system-deps:
	@missing=""; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server etcd-client"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: venv
	$(VENV)/bin/ruff check confpy tests benchmarks
	$(VENV)/bin/ruff format --check confpy tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

unit: venv system-deps
	$(PY) -m pytest -q

bench: venv system-deps
	$(PY) benchmarks/run.py

demo: venv system-deps
	$(PY) -m confpy.demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
