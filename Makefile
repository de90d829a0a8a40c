# The README's two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# make run: the embedded default (SQLite + local memory) with a visible AI latency, DEBUG on.
RUN_ENV := DEBUG=$${DEBUG:-1} AI_ANALYSIS_LATENCY=$${AI_ANALYSIS_LATENCY:-3}

.PHONY: run test lint format venv seed prewarm clean admin-password

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

# A git-ignored local settings file (DEBUG=1, a generated SECRET_KEY), so that every
# `.venv/bin/python manage.py ...` works as written; the environment still wins over it.
.env: | $(STAMP)
	$(PY) -m config.env

venv: $(STAMP) .env

admin-password: $(STAMP) .env
	$(PY) manage.py reset_admin_password

run: $(STAMP) .env
	$(RUN_ENV) $(PY) manage.py migrate --noinput -v0
	$(RUN_ENV) $(PY) manage.py seed_demo_data --if-empty
	$(RUN_ENV) $(PY) manage.py prewarm_cache || true
	@echo ""
	@echo "Cachewarden is serving on http://$(HOST):$(PORT)/"
	@echo "  admin:       http://$(HOST):$(PORT)/admin/   (user 'admin'; a new password any time: make admin-password)"
	@echo "  API root:    http://$(HOST):$(PORT)/api/"
	@echo "  API docs:    http://$(HOST):$(PORT)/api/schema/docs/"
	@echo "  dashboard:   http://$(HOST):$(PORT)/dashboard/"
	@echo "  monitoring:  http://$(HOST):$(PORT)/monitoring/"
	@echo "  health:      http://$(HOST):$(PORT)/api/health"
	@echo ""
	$(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP) .env lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
