# multiagent.ops — developer entry points. `make demo` and `make test` work on a fresh
# Debian 12 machine: both run `make setup` first (apt packages, .venv, collections).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := $(CURDIR)/.venv
VENV_MIN    := $(CURDIR)/.venv-min
PY          := $(VENV)/bin/python
COLL_DIR    := $(CURDIR)/.collections/ansible_collections/multiagent/ops
REPORT_DIR  ?= $(CURDIR)/reports/demo
PYTEST_ARGS ?=
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help setup stack-up stack-down stack-status demo-load demo test unit unit-min \
        emulator integration molecule smoke-min lint sanity bench bench-backup bench-deploy bench-query bench-capacity bench-security format changelog clean

help:
	@echo "make demo        set up, start the local stack, deploy the demo platform and its monitoring, run the health check and the diagnosis"
	@echo "make test        set up, start the local stack, run unit, emulator and integration tests, lint and sanity"
	@echo "make stack-up | stack-down | stack-status    the local stack (tests/stack)"
	@echo "make unit | unit-min | emulator | integration | molecule | smoke-min | lint | sanity | bench | bench-backup | format"
	@echo "make changelog   lint changelogs/fragments and write CHANGELOG.md from changelogs/ (antsibull-changelog)"
	@echo "make bench-deploy   the deploy role vs one k8s task per object, and its re-run vs one ping (BENCH_RUNS, BENCH_PROFILE=1)"
	@echo "make bench-query    prometheus_query: 100 queries in one task vs one query vs 100 looped uri tasks"
	@echo "make bench-security k8s_security_audit on 5,000 and 10,000 generated Deployments vs checkov 3.3.30, and live 1,000 vs 100 pods"

setup:
	@bash hack/setup.sh

stack-up: setup
	@$(PY) tests/stack/stack.py up

stack-down:
	@$(PY) tests/stack/stack.py down

stack-status:
	@$(PY) tests/stack/stack.py status

demo-load: stack-up
	ansible-playbook -i inventories/demo tests/stack/load_demo.yml

demo: stack-up
	@mkdir -p $(REPORT_DIR)
	ansible-playbook -i inventories/demo playbooks/deploy.yml
	ansible-playbook -i inventories/demo playbooks/monitoring.yml
	ansible-playbook -i inventories/demo playbooks/health_check.yml -e ops_report_dir=$(REPORT_DIR)
	ansible-playbook -i inventories/demo playbooks/diagnose.yml -e ops_report_dir=$(REPORT_DIR)
	ansible-playbook -i inventories/demo playbooks/performance_analysis.yml -e ops_report_dir=$(REPORT_DIR)
	ansible-playbook -i inventories/demo playbooks/cost_report.yml -e ops_report_dir=$(REPORT_DIR)
	ansible-playbook -i inventories/demo playbooks/security_audit.yml -e ops_report_dir=$(REPORT_DIR)
	@echo; cat $(REPORT_DIR)/health.md
	@echo; echo "Reports in $(REPORT_DIR):"; ls -1 $(REPORT_DIR) | sed 's/^/  /'

# Each part's time is printed as it ends ("[test] unit: 85 s"), and all of them at the end.
TEST_PARTS = unit unit-min emulator integration molecule smoke-min lint sanity
test: setup stack-up
	@set -e; rm -f .test-times; for part in $(TEST_PARTS); do \
	  start=$$(date +%s); $(MAKE) --no-print-directory $$part; \
	  echo "[test] $$part: $$(( $$(date +%s) - start )) s" | tee -a .test-times; \
	done; echo "[test] times:"; cat .test-times

# Unit tests two at a time (pytest-xdist): about a minute instead of three.
unit:
	$(PY) -m pytest tests/unit -q -n 2 $(PYTEST_ARGS)

# The lowest ansible-core declared in meta/runtime.yml: unit tests, a health check run and every
# module once (tests/smoke/every_module.yml).
unit-min:
	$(VENV_MIN)/bin/python -m pytest tests/unit -q -n 2 $(PYTEST_ARGS)

emulator:
	$(PY) -m pytest tests/emulator -q $(PYTEST_ARGS)

# Tests marked `parallel` (their own namespaces, nothing global) run two at a time first
# (pytest-xdist, a file per worker); then, alone, those that change what every test sees.
# Each lane prints its 15 slowest tests.
integration: stack-up
	$(PY) -m pytest tests/integration -q -m "parallel and not global_state" -n 2 --dist loadfile --durations 15 $(PYTEST_ARGS)
	$(PY) -m pytest tests/integration -q -m "not parallel or global_state" --durations 15 $(PYTEST_ARGS)

# Role scenarios against the local stack (local connection, no Docker).
molecule: demo-load
	set -e; for role in _ops backup deploy monitoring security; do \
	  (cd roles/$$role && MAOPS_STACK_DIR=$(CURDIR)/.stack $(VENV)/bin/molecule test); \
	done

smoke-min: demo-load
	PATH=$(VENV_MIN)/bin:$$PATH $(VENV_MIN)/bin/ansible-playbook -i inventories/demo playbooks/health_check.yml
	PATH=$(VENV_MIN)/bin:$$PATH $(VENV_MIN)/bin/ansible-playbook -i inventories/demo tests/smoke/every_module.yml

lint:
	$(VENV)/bin/ruff check plugins tests bench hack
	$(VENV)/bin/ruff format --check plugins tests bench hack
	cd $(COLL_DIR) && $(VENV)/bin/ansible-lint

sanity:
	bash hack/sanity.sh

bench: stack-up
	$(PY) bench/run.py

# The database backup against about 1 GB of generated data (created once, kept).
bench-backup: stack-up
	$(PY) bench/backup_bench.py

# prometheus_query: 100 queries in one task against one query and against 100 looped uri tasks.
bench-query: stack-up
	$(PY) bench/query_bench.py

# The deploy role (playbooks/deploy.yml) on one emulated cluster against the naive deploy.
bench-deploy: stack-up
	$(PY) bench/deploy_bench.py

# The capacity report (3 regions x 10 components, 30 days) against one ping and the naive way.
bench-capacity: stack-up
	$(PY) bench/capacity_bench.py

# The security audit on 5,000 and 10,000 generated Deployments against checkov (installed once into
# .cache/checkov-venv from the package registry), and live: 1,000 pods against 100 on the emulator.
bench-security: stack-up
	$(PY) bench/security_bench.py

format:
	$(VENV)/bin/ruff format plugins tests bench hack
	$(VENV)/bin/ruff check --fix plugins tests bench hack

# CHANGELOG.md is generated: the releases in changelogs/changelog.yaml and, as the next
# release, the fragments in changelogs/fragments/ (one YAML file per change, antsibull-changelog).
changelog:
	$(PY) hack/changelog.py

clean: stack-down
	rm -rf reports tests/output
