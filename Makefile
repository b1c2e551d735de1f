# Developer entry points. `make app` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# PyPI's torch and its matching torchvision (controlnet-aux needs both); users install with installer/.
TORCH  ?= torch==2.14.1 torchvision==0.29.2

.PHONY: app test setup clean constraints

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e ".[test]"
	touch $(STAMP)

app: $(STAMP)
	$(BIN)/studio

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# Pin what the venv has now (after a green `make test`), leaving torch and its CUDA wheels to TORCH.
constraints: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -viE '^(torch|torchvision|triton)==|^(nvidia-|cuda-)|^studio'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
