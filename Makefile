# The README's two commands: `make repro` (install, then the whole DAG) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export DVC_NO_ANALYTICS := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install repro test lint

install: $(VENV)/.installed

# torch/torchvision are pinned exactly (an unpinned torch would pull a multi-GB build);
# constraints.txt pins every other transitive dependency.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

# --pull: stages whose code, params and deps match dvc.lock take their outputs from the remote
# (the bundled dvc-remote/ by default) instead of running; a changed stage runs as usual
repro: install
	$(BIN)/dvc repro --pull

# the tests also cover the optional deploy extra (ONNX export, the onnxruntime backend)
$(VENV)/.deploy: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,deploy]"
	touch $@

test: install $(VENV)/.deploy
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check ballspot stages tests
