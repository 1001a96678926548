# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   installs, sets up a demo workspace and serves the site
#   make test   installs if needed and runs the whole suite

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Two pytest workers: the machines this runs on have two cores.
PYTEST_ARGS ?= -n 2

.PHONY: install demo demo-once test bench migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Oneprofile needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py demo

demo-once: migrate
	$(BIN)/python manage.py demo --once --json

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: migrate
	$(BIN)/python manage.py bench

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles
