# Two entry points, each of which sets itself up on a fresh Debian/Ubuntu machine:
#   make run    execute both notebooks in place (full run), regenerate figures/ and the README table
#   make test   unit tests + both notebooks under nbval in smoke mode (writes nothing into figures/)
#   make colab REPO=<account>/<repo>   point the notebooks' Colab cell at your copy; print Colab links
#   make assignment [STUDENT_REPO=URL]  build dist/student/ (the release) and dist/autograder/
#   make grade SUBMISSIONS=folder      grade every submission in folder -> grades/grades.csv
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
DEBIAN_FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
NOTEBOOKS := notebooks/01_classification.ipynb notebooks/02_segmentation.ipynb

.PHONY: run test setup fashion-data facade-data benchmark colab assignment grade

run: setup facade-data
	$(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=-1 $(NOTEBOOKS)
	$(PY) -m tools.notebook_outputs $(NOTEBOOKS)
	$(PY) -m helpers.results

# smoke outputs go to a fresh temporary folder, removed when the tests end (pass or fail)
test: setup facade-data
	@out=$$(mktemp -d -t dlcv-smoke-XXXXXX) && trap 'rm -rf "$$out"' EXIT && \
	DLCV_OUTPUT_DIR="$$out" DLCV_SMOKE=1 TQDM_DISABLE=1 $(PY) -m pytest -p no:cacheprovider tests notebooks \
	    --nbval-lax --nbval-current-env

# throughput, per-phase and per-operator profiles, evaluation batch sweep (about 10 minutes on 2 cores),
# then the tables of benchmarks/README.md (precision_check.py, an hour, and gpu_check.py, for a GPU, run by hand)
benchmark: setup facade-data
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/profile_epoch.py
	$(PY) benchmarks/profile_ops.py
	$(PY) benchmarks/eval_batch.py
	$(PY) benchmarks/step_cost.py
	$(PY) benchmarks/allocator.py
	$(PY) benchmarks/tables.py

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

# The facade set, for both run and test: $$FACADES_DIR (that folder alone), else data/facades,
# else the CMP release downloaded and converted; stops with one message when none can be had.
facade-data: $(STAMP)
	@$(PY) -m helpers.facades --ensure

# REPO=<account>/<repo>: your copy on GitHub (the notebooks ship with a placeholder address)
colab: $(STAMP)
	$(PY) -m tools.colab $(REPO)

# the student release and the autograder, built from this solution (nothing in dist/ is committed)
STUDENT_REPO ?= https://github.com/YOUR-ACCOUNT/dlcv-assignment
assignment: $(STAMP)
	$(PY) -m tools.assignment --repo-url $(STUDENT_REPO)

# SUBMISSIONS=folder: one folder per student (their copy of the release)
grade: setup facade-data
	@[ -n "$(SUBMISSIONS)" ] || { echo "usage: make grade SUBMISSIONS=folder (one folder per submission)"; exit 2; }
	$(PY) autograder/grade.py $(SUBMISSIONS) --out grades/grades.csv
