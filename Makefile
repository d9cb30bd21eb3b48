# The two commands a newcomer needs: `make run` (the whole desk, embedded) and `make test`.
# `make run`'s Procfile execs each process, and the worker runs a thread pool: honcho's
# Ctrl-C signals each entry's whole process group, so the worker must be one process to
# get a warm shutdown (finish the tasks it runs) instead of pool children killed mid-task.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus

.PHONY: run test lint format migrate clean i18n

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

run: $(VENV)/.installed
	mkdir -p var
	rm -rf $(PROMETHEUS_MULTIPROC_DIR) && mkdir -p $(PROMETHEUS_MULTIPROC_DIR)
	python -m backend db upgrade
	python -m backend db seed
	LOG_FORMAT=$${LOG_FORMAT:-console} exec honcho start --port $${PORT:-8050}

test: $(VENV)/.installed
	python -m pytest

lint: $(VENV)/.installed
	ruff check .
	ruff format --check .

migrate: $(VENV)/.installed
	python -m backend db upgrade

# Translations: extract every _() into the template, merge it into each language's
# catalog (edit dashboard/translations/*/LC_MESSAGES/messages.po), then compile the .mo
# files the app reads. Both .po and .mo are committed.
i18n: $(VENV)/.installed
	pybabel extract -F babel.cfg --no-location --sort-output -k _l -k N_ -o dashboard/translations/messages.pot .
	pybabel update -i dashboard/translations/messages.pot -d dashboard/translations --no-fuzzy-matching --ignore-obsolete
	pybabel compile -d dashboard/translations

clean:
	rm -rf var $(VENV)
