# The two commands of the README. Both set everything up on a fresh machine.
.PHONY: demo test bench

demo:
	bash scripts/bootstrap.sh
	.venv/bin/enricher demo

test:
	bash scripts/test.sh

bench:
	bash scripts/bootstrap.sh
	.venv/bin/pip install -q -e '.[bench]'
	.venv/bin/python -m bench.burndown
	.venv/bin/python -m bench.local_provider
	bash -c 'source scripts/postgres.sh start && trap "bash scripts/postgres.sh stop" EXIT && .venv/bin/python -m bench.burndown_pg && .venv/bin/python -m bench.peers'
