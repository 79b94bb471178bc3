# The two set-up commands of the README. Both create .venv with the machine's
# python3 when it is missing and install the project (with its dev extra) into it.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: test demo bench venv clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m pytest -q

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/seqlift demo

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/seqlift bench

clean:
	rm -rf $(VENV) demo-out bench-out
