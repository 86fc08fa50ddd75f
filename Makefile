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
	.venv/bin/lint-imports
	xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest $(PYTEST_ARGS)

# Every benchmark that needs no other venv (DeepLabCut's baseline has its own: see
# benchmarks/bench_finetune_dlc.py). Each writes benchmarks/results/<name>.json.
XVFB = xvfb-run -a -s "-screen 0 1600x1000x24"
DLC_PYTHON ?= /work/dlcvenv/bin/python
bench: setup
	cd benchmarks && ../.venv/bin/python bench_video.py
	cd benchmarks && ../.venv/bin/python bench_inference.py --frames 32
	cd benchmarks && $(XVFB) ../.venv/bin/python bench_open.py
	cd benchmarks && $(XVFB) ../.venv/bin/python bench_labeling.py
	cd benchmarks && ../.venv/bin/python bench_cluster.py
	cd benchmarks && ../.venv/bin/python bench_finetune.py --arch light_resnet18 --labels 20 --seeds 0 1 2 --tag new
	cd benchmarks && ../.venv/bin/python bench_finetune.py --arch light_resnet18 --labels 5 10 35 --tag counts
	cd benchmarks && ../.venv/bin/python bench_suggest.py
	cd benchmarks && ../.venv/bin/python bench_animals_store.py
	cd benchmarks && ../.venv/bin/python bench_demo.py
	cd benchmarks && ../.venv/bin/python bench_adapt.py
	cd benchmarks && ../.venv/bin/python bench_faults.py
	# DeepLabCut's side needs its own venv (bench_finetune_dlc.py's docstring sets it up)
	if [ -x $(DLC_PYTHON) ]; then cd benchmarks && ../.venv/bin/python bench_topdown_dlc.py --dlc-python $(DLC_PYTHON); else echo "bench_topdown_dlc.py skipped: no DeepLabCut venv at $(DLC_PYTHON)"; fi
	if [ -x $(DLC_PYTHON) ]; then cd benchmarks && ../.venv/bin/python bench_tracking.py --dlc-python $(DLC_PYTHON); else echo "bench_tracking.py skipped: no DeepLabCut venv at $(DLC_PYTHON)"; fi
	if [ -x $(DLC_PYTHON) ]; then cd benchmarks && ../.venv/bin/python bench_onnx.py --detector --dlc-python $(DLC_PYTHON); else echo "bench_onnx.py skipped: no DeepLabCut venv at $(DLC_PYTHON)"; fi
	if [ -x $(DLC_PYTHON) ]; then cd benchmarks && ../.venv/bin/python bench_tracking.py --frames 100 --every-frame-frames 20 --engines --dlc-python $(DLC_PYTHON); else echo "bench_tracking.py --engines skipped: no DeepLabCut venv"; fi
	if [ -x $(DLC_PYTHON) ]; then cd benchmarks && ../.venv/bin/python bench_tracking.py --frames 100 --warm; else echo "bench_tracking.py --warm skipped: it compares with the --engines run"; fi
	if [ -x $(DLC_PYTHON) ]; then cd benchmarks && ../.venv/bin/python check_dlc_multianimal.py --dlc-python $(DLC_PYTHON); else echo "check_dlc_multianimal.py skipped: no DeepLabCut venv"; fi
	if [ -x $(DLC_PYTHON) ]; then $(DLC_PYTHON) benchmarks/bench_finetune_dlc.py --labels 20; else echo "bench_finetune_dlc.py skipped: no DeepLabCut venv"; fi
	cd benchmarks && ../.venv/bin/python summarize_finetune.py
