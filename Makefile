# The README's commands. Everything installs into .venv from pinned versions (requirements/constraints.txt).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo
DEMO_JETS ?= 400

.PHONY: install demo test bench quality lint clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Real quark and gluon jets (Pythia 8 + FastJet), two detector replicas each, their jet images; a short
# contrastive pretraining of the particle transformer on them, their frozen representations, and the
# quark/gluon probes (table printed, figures in demo/run/probe/).
demo: $(STAMP)
	$(VENV)/bin/jetgraph generate qg --jets $(DEMO_JETS) --replicas 2 --workers 2 --out $(DEMO_DIR)/qg.root
	$(VENV)/bin/jetgraph inspect $(DEMO_DIR)/qg.root
	$(VENV)/bin/jetgraph images $(DEMO_DIR)/qg.root --out $(DEMO_DIR)/qg_images.h5
	$(VENV)/bin/jetgraph inspect $(DEMO_DIR)/qg_images.h5
	rm -rf $(DEMO_DIR)/run
	$(VENV)/bin/jetgraph pretrain --config configs/pretrain/qg_transformer.yaml --out $(DEMO_DIR)/run \
		--set data.train=$(DEMO_DIR)/qg.root --set 'data.val=[]' --set train.epochs=3 --set train.batch_size=64
	$(VENV)/bin/jetgraph embed $(DEMO_DIR)/run --data $(DEMO_DIR)/qg.root --out $(DEMO_DIR)/qg_embedding.h5
	$(VENV)/bin/jetgraph probe $(DEMO_DIR)/run --task qg --data $(DEMO_DIR)/qg.root --threads 1
	@echo ""
	@echo "make demo made, in $(DEMO_DIR)/:"
	@echo "  qg.root             $(DEMO_JETS) quark and gluon jets (Pythia 8 + FastJet), two detector replicas each"
	@echo "  qg_images.h5        the same jets as (Tracks, ECAL, HCAL) images"
	@echo "  run/                a pretrained transformer: config.yaml, checkpoints/, metrics.csv, TensorBoard events"
	@echo "  qg_embedding.h5     its frozen representation of every jet"
	@echo "  run/probe/          the probe table (qg.json) and figures (ROC, label fractions, map)"
	@echo "The demo probes the jets it pretrained on, a few hundred of them: its numbers show the workflow, not a result."
	@echo "Next:"
	@echo "  .venv/bin/tensorboard --logdir $(DEMO_DIR)/run                      # the pretraining curves"
	@echo "  .venv/bin/jetgraph generate qg --jets 2000 --seed 1 --out $(DEMO_DIR)/qg_test.root"
	@echo "  .venv/bin/jetgraph probe $(DEMO_DIR)/run --data $(DEMO_DIR)/qg_test.root --replace   # jets it never saw (replaces run/probe/qg.json)"
	@echo "  .venv/bin/jetgraph compare $(DEMO_DIR)/run OTHER_RUN                 # runs side by side"
	@echo "  docs/tutorial.md: your own ntuple, from inspect to probe"

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check jetgraph tests benchmarks
	$(VENV)/bin/ruff format --check jetgraph tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/io.py
	$(PY) benchmarks/generate.py
	$(PY) benchmarks/augment.py
	$(PY) benchmarks/train_step.py
	$(PY) benchmarks/pipeline.py

# Representation quality at a fixed CPU budget (benchmarks/quality.yaml: hours; resumable).
quality: $(STAMP)
	$(PY) benchmarks/quality.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
