# Commerce marketplace backend — the two commands a newcomer needs are `make dev` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help dev test fuzz lint package bench bench-checkout bench-webhooks bench-search load reindex provision emulator-start emulator-stop clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

dev: ## Run everything locally with demo data: emulator, provisioning from template.yaml, API on :3000
	@bash infra/local/dev.sh

test: ## Run every test (unit, handler, end-to-end, then a fixed-seed fuzz run) against a fresh emulator, then stop it
	@bash infra/local/test.sh $(TEST_ARGS)

fuzz: ## Fuzz the API from its OpenAPI document on a fresh emulator (random seed; SEED=n replays, EXPLORE=1 adds data-acceptance checks)
	@bash infra/local/fuzz.sh $(if $(SEED),--seed $(SEED)) $(if $(EXPLORE),--explore) $(if $(FUZZ_ARGS),-- $(FUZZ_ARGS))

lint: ## cfn-lint the template and clippy the workspace
	@bash infra/local/venv.sh
	@.venv/bin/cfn-lint template.yaml
	@cargo clippy --workspace --all-targets -- -D warnings

package: ## Build every Lambda in release mode with cargo-lambda (host architecture; ARCH=arm64 to cross-build)
	@bash infra/local/package.sh

bench: ## Latency of login and GET users/me over 1000 warm requests (needs `make dev` running)
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/bench.py --base-url $${BASE_URL:-http://localhost:3000}

bench-checkout: ## Checkout latency and throughput vs the emulator's raw transaction rate (needs make dev running)
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/bench_checkout.py --base-url $${BASE_URL:-http://localhost:3000}

bench-webhooks: ## Stripe webhook latency vs the emulator's raw transaction rate (needs make dev running)
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/bench_webhooks.py --base-url $${BASE_URL:-http://localhost:3000}

load: ## 60 s mixed workload (browse, cart, checkout, cancel) vs make dev, then no-oversell / ledger / voucher checks
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/load.py --base-url $${BASE_URL:-http://localhost:3000} $(LOAD_ARGS)

reindex: ## Rebuild the search index of `make dev` from the table (new generation, alias swapped)
	@cargo build -q -p dev-server
	@target/debug/dev-server --stack .local/stack.json --reindex-only

provision: ## Create the local resources of template.yaml in the emulator (idempotent)
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/provision.py --endpoint $${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} --stack commerce-local --out .local/stack.json

emulator-start: ## Start the moto emulator on 127.0.0.1:4566
	@bash infra/local/venv.sh
	@bash infra/local/emulator.sh start 4566

emulator-stop: ## Stop the emulator started by emulator-start
	@bash infra/local/emulator.sh stop 4566

clean: ## Remove build output, the venv and local state
	cargo clean
	rm -rf .venv .venv-package .local
