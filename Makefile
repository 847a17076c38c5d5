# The two commands of the README. Both set everything up on a fresh machine, installing
# the exact versions pinned in requirements.lock (see `make lock`).
.PHONY: demo test bench lock

demo:
	bash scripts/bootstrap.sh
	.venv/bin/enricher demo

# ARGS go to pytest: `make test ARGS=-n0` runs the suite in one process.
test:
	bash scripts/test.sh $(ARGS)

bench:
	bash scripts/bootstrap.sh
	.venv/bin/python -m pip install --quiet -c requirements.lock -e '.[bench]'
	.venv/bin/python -m bench.burndown
	.venv/bin/python -m bench.local_provider
	.venv/bin/python -m bench.cost
	bash -c 'source scripts/postgres.sh start && trap "bash scripts/postgres.sh stop" EXIT && .venv/bin/python -m bench.burndown_pg && .venv/bin/python -m bench.peers && .venv/bin/python -m bench.web && .venv/bin/python -m bench.scale && .venv/bin/python -m bench.soak'

# Re-resolve requirements.lock from pyproject.toml (runtime, dev and bench extras), taking
# the newest versions the ranges allow; commit the result. pip-tools is installed into
# .venv on demand; the next bootstrap sees the new lock and reinstalls.
lock:
	bash scripts/bootstrap.sh
	.venv/bin/python -m pip install --quiet pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" .venv/bin/pip-compile --quiet --upgrade --extra dev --extra bench --strip-extras \
		--no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
		--output-file requirements.lock pyproject.toml
