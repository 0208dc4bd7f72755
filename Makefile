# Developer shortcuts. `make dist` builds the one-folder bundle dist/raksbl/ (raksbl + raksbl-cli)
# with build/raksbl.spec — natively on Linux; on Windows use build/build_windows.ps1.
# Needs the build extra: scripts/bootstrap.sh build  (or: .venv/bin/pip install -e ".[build]").
PYTHON ?= .venv/bin/python

.PHONY: dist clean-dist

dist:
	$(PYTHON) -m PyInstaller --noconfirm --distpath dist --workpath build/work build/raksbl.spec

clean-dist:
	rm -rf dist/raksbl build/work
