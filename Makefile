# sg-harness: make demo (set up, then run the seed's three-tier lab), make test (everything).
PY := .venv/bin
.PHONY: setup demo test docs lint typecheck unit integration bench bench-detail clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY)/sgh run topologies/three-tier.yaml

test: setup
	$(PY)/ruff check .
	$(PY)/ruff format --check .
	$(PY)/mypy
	$(PY)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(PY)/mkdocs build --strict --quiet
	$(PY)/pytest

docs: setup
	NO_MKDOCS_2_WARNING=1 $(PY)/mkdocs build --strict
	@echo "the site is in .site/ (open .site/index.html)"

lint: setup
	$(PY)/ruff check .
	$(PY)/ruff format --check .

typecheck: setup
	$(PY)/mypy
	$(PY)/lint-imports

unit: setup
	$(PY)/pytest tests/unit

integration: setup
	$(PY)/pytest tests/integration

bench: setup
	$(PY)/python bench/table.py

bench-detail: setup
	$(PY)/python bench/three_tier.py
	$(PY)/python bench/three_tier.py topologies/vpc-three-tier.yaml
	$(PY)/python bench/propagation.py

clean:
	-$(PY)/sgh clean
