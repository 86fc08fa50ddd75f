# The two commands of the README. Both set everything up first (scripts/bootstrap.sh).
.PHONY: setup demo test lint bench

setup:
	bash scripts/bootstrap.sh

# Runs the demo on an embedded synthetic video: no download; without a display it renders
# a screenshot under Xvfb into demo-output/.
demo: setup
	.venv/bin/napari-superanimal demo

# Lint and the whole test suite; GUI tests run in a real napari viewer under Xvfb.
test: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks
	xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	cd benchmarks && ../.venv/bin/python bench_video.py
	cd benchmarks && ../.venv/bin/python bench_inference.py --frames 32
	cd benchmarks && xvfb-run -a -s "-screen 0 1600x1000x24" ../.venv/bin/python bench_labeling.py
	cd benchmarks && ../.venv/bin/python bench_cluster.py
