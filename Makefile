# The two set-up commands of the README. Both create .venv with the machine's
# python3 when it is missing and install the project (with its dev extra) into it.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: test demo bench venv clean

# chrombpnet's model code writes the tests' ChromBPNet files (tests/chrombpnet_files.py); its
# metadata pins TensorFlow 2.8, so it comes without dependencies (those it needs are in dev)
$(STAMP): pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	$(VENV)/bin/python -m pip install -q --no-deps chrombpnet==1.0.1
	touch $(STAMP)

venv: $(STAMP)

# the suite includes tests/test_install.py: a wheel of the project, installed into a fresh temporary
# venv (dependencies from .venv, nothing downloaded) and run from outside the repository
test: $(STAMP)
	$(VENV)/bin/ruff check seqlift tests workflows
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m pytest -q

# The workflow (workflows/Snakefile, settings workflows/config.yaml) on the shipped
# TAL1/GATA1 demo: score in 2 shards, merge, report, logos, TF-MoDISco; outputs in
# demo-out/. DEMO_CORES=8 make demo uses more cores.
DEMO_CORES ?= 2

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/snakemake \
		--snakefile workflows/Snakefile --configfile workflows/config.yaml --cores $(DEMO_CORES)

# the bench extra adds the implementations timed beside seqlift (tangermeme brings PyTorch)
$(BENCH_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/seqlift bench

clean:
	rm -rf $(VENV) demo-out bench-out
