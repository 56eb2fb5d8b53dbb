# Two entry points, each of which sets itself up on a fresh Debian/Ubuntu machine:
#   make run    execute both notebooks in place (full run), regenerate figures/ and the README table
#   make test   unit tests + both notebooks under nbval in smoke mode (writes nothing into figures/)
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
DEBIAN_FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
NOTEBOOKS := notebooks/01_classification.ipynb notebooks/02_segmentation.ipynb

.PHONY: run test setup fashion-data facade-data benchmark

run: setup facade-data
	$(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=-1 $(NOTEBOOKS)
	$(PY) -m helpers.notebook_outputs $(NOTEBOOKS)
	$(PY) -m helpers.results

test: setup
	DLCV_SMOKE=1 TQDM_DISABLE=1 $(PY) -m pytest -p no:cacheprovider tests notebooks \
	    --nbval-lax --nbval-current-env

# throughput, per-phase and per-operator profiles, evaluation batch sweep (about 8 minutes on 2 cores), then the README tables
benchmark: setup facade-data
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/profile_epoch.py
	$(PY) benchmarks/profile_ops.py
	$(PY) benchmarks/eval_batch.py
	$(PY) -m helpers.results

setup: $(STAMP) fashion-data

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# Debian's package holds Fashion-MNIST; elsewhere torchvision downloads it on first use.
fashion-data:
	@if [ ! -e $(DEBIAN_FASHION) ] && command -v apt-get >/dev/null 2>&1; then \
	    $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q dataset-fashion-mnist \
	    || echo "dataset-fashion-mnist not installed: torchvision will download Fashion-MNIST"; \
	fi

# The facade set: $$FACADES_DIR, else data/facades, else converted from the CMP release.
facade-data: $(STAMP)
	@if [ -n "$$FACADES_DIR" ]; then echo "facades: $$FACADES_DIR"; \
	elif [ -d data/facades ]; then echo "facades: data/facades"; \
	else $(PY) -m helpers.facades --download; fi
