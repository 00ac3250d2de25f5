# Commerce marketplace backend — the two commands a newcomer needs are `make dev` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help dev test fuzz lint package bench bench-checkout bench-webhooks bench-search bench-ws bench-notify load migrate reindex provision emulator-start emulator-stop clean

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

# Its own stack, like make fuzz (lib.sh's start_local_stack, less the payment sandbox, with the
# optimised build): emulator, search server and provisioning on free ports, the index created by
# the real indexer path (--reindex-only on the empty table), then the dev server without the pump.
# SEARCH_TIMEOUT_MS (template: 3 s) is raised in the stack file to 120 s: the in-memory engine takes
# longer on broad matches of 100 000 documents; the bench measures the API's overhead, not that.
bench-search: ## Search p50/p99 through the API vs straight to the engine, 100 000 generated Vietnamese products (own stack, optimised build; BENCH_SEARCH_ARGS=…)
	@bash infra/local/venv.sh
	@printf '\n\033[1m==> %s\033[0m\n' "Building the dev server and the compiled replay client, bench profile (opt-level 3, no LTO; into target/release; the first build takes a while)"
	@cargo build --profile bench -p dev-server -p e2e --bin dev-server --bin bench-search-replay
	@set -euo pipefail; source infra/local/lib.sh; \
	trap stop_local_stack EXIT; trap 'exit 130' INT TERM; \
	export AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-test} AWS_REGION=$${AWS_REGION:-us-east-1}; \
	emulator_port=$$(bash infra/local/emulator.sh free-port); run_dir=.local/bench-search-$$emulator_port; mkdir -p "$$run_dir"; \
	step "Emulator on 127.0.0.1:$$emulator_port"; bash infra/local/emulator.sh start "$$emulator_port"; \
	search_port=$$(bash infra/local/emulator.sh free-port); api_port=$$(bash infra/local/emulator.sh free-port); \
	cpus=$$(nproc); api_cpus=""; \
	if [ "$${BENCH_PIN:-1}" = 1 ] && [ "$$cpus" -ge 2 ] && command -v taskset >/dev/null; then \
	  export SEARCH_CPUS=$$((cpus - 1)); api_cpus="taskset -c 0-$$((cpus - 2))"; fi; \
	step "Search server (osmem) on 127.0.0.1:$$search_port$${SEARCH_CPUS:+, CPU $$SEARCH_CPUS (the API and the clients on the others; BENCH_PIN=0 shares them)}"; \
	start_search "$$search_port" "$$run_dir/search.log"; \
	step "Provisioning from template.yaml"; \
	.venv/bin/python infra/local/provision.py --endpoint "http://127.0.0.1:$$emulator_port" --stack "bench-search$$emulator_port" \
	  --out "$$run_dir/stack.json" --param "SearchEndpoint=$$search_url" --param WriteLimitPerIp=0 --param WriteLimitPerUser=0 >"$$run_dir/provision.log"; \
	.venv/bin/python -c 'import json, sys; p = sys.argv[1]; s = json.load(open(p)); s["functions"]["SearchFunction"]["env"]["SEARCH_TIMEOUT_MS"] = sys.argv[2]; json.dump(s, open(p, "w"), indent=2)' \
	  "$$run_dir/stack.json" "$${SEARCH_TIMEOUT_MS:-120000}"; \
	step "Index and alias by the indexer (dev-server --reindex-only)"; \
	target/release/dev-server --stack "$$run_dir/stack.json" --reindex-only >"$$run_dir/reindex.json" 2>"$$run_dir/reindex.log" \
	  || { tail -n 30 "$$run_dir/reindex.log" >&2; exit 1; }; \
	step "Dev server (bench build, no pump) on 127.0.0.1:$$api_port"; \
	$$api_cpus target/release/dev-server --stack "$$run_dir/stack.json" --port "$$api_port" --no-pump >"$$run_dir/dev-server.log" 2>&1 & server_pid=$$!; \
	wait_http "http://127.0.0.1:$$api_port/health" 60 "$$run_dir/dev-server.log"; \
	step "bench_search.py"; \
	$$api_cpus .venv/bin/python infra/local/bench_search.py --base-url "http://127.0.0.1:$$api_port" --search-url "$$search_url" \
	  --stack "$$run_dir/stack.json" --server-bin target/release/dev-server --replay-bin target/release/bench-search-replay \
	  --out .local/bench-search.json --passes $${BENCH_SEARCH_PASSES:-paired,compiled} $(BENCH_SEARCH_ARGS)

bench-ws: ## Live-tracking fan-out p50/p99: location POST → frame at 50 WebSocket subscribers (own stack, optimised build; BENCH_WS_ARGS=…)
	@bash infra/local/venv.sh
	@printf '\n\033[1m==> %s\033[0m\n' "Building the dev server and the bench client, bench profile (into target/release)"
	@cargo build --profile bench -p dev-server -p e2e --bin dev-server --bin bench-ws
	@set -euo pipefail; source infra/local/lib.sh; \
	trap stop_local_stack EXIT; trap 'exit 130' INT TERM; \
	DEV_SERVER_BIN=target/release/dev-server start_local_stack bench-ws --param WriteLimitPerIp=0 --param WriteLimitPerUser=0; \
	source "$$run_dir/stack.env"; export E2E_BASE_URL="http://127.0.0.1:$$api_port"; \
	step "bench-ws"; target/release/bench-ws --json .local/bench-ws.json $(BENCH_WS_ARGS)

bench-notify: ## Notification latency p50/p99: event on the notifier's queue → in-app item, → live WebSocket frame (own stack, optimised build; BENCH_NOTIFY_ARGS=…)
	@bash infra/local/venv.sh
	@printf '\n\033[1m==> %s\033[0m\n' "Building the dev server and the bench client, bench profile (into target/release)"
	@cargo build --profile bench -p dev-server -p e2e --bin dev-server --bin bench-notify
	@set -euo pipefail; source infra/local/lib.sh; \
	trap stop_local_stack EXIT; trap 'exit 130' INT TERM; \
	DEV_SERVER_BIN=target/release/dev-server start_local_stack bench-notify --param WriteLimitPerIp=0 --param WriteLimitPerUser=0; \
	source "$$run_dir/stack.env"; export E2E_BASE_URL="http://127.0.0.1:$$api_port"; \
	step "bench-notify"; target/release/bench-notify --json .local/bench-notify.json $(BENCH_NOTIFY_ARGS)

load: ## 60 s mixed workload (browse, cart, checkout, cancel) vs make dev, then no-oversell / ledger / voucher checks
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/load.py --base-url $${BASE_URL:-http://localhost:3000} $(LOAD_ARGS)

migrate: ## Bring the data of `make dev` to this release's shape (warehouses, stock rows, sharded listings); idempotent
	@source infra/local/lib.sh && build_workspace -q
	@target/debug/dev-server --stack .local/stack.json --migrate-only

reindex: ## Rebuild the search index of `make dev` from the table (new generation, alias swapped)
	@source infra/local/lib.sh && build_workspace -q
	@target/debug/dev-server --stack .local/stack.json --reindex-only

provision: ## Create the local resources of template.yaml in the emulator (idempotent)
	@bash infra/local/venv.sh
	@.venv/bin/python infra/local/provision.py --endpoint $${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} --stack commerce-local --out .local/stack.json --param SearchEndpoint=$${OPENSEARCH_ENDPOINT:-http://127.0.0.1:9200} \
	  $$(.venv/bin/python infra/local/push_apps.py --endpoint $${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} --stack commerce-local)

emulator-start: ## Start the moto emulator on 127.0.0.1:4566
	@bash infra/local/venv.sh
	@bash infra/local/emulator.sh start 4566

emulator-stop: ## Stop the emulator started by emulator-start
	@bash infra/local/emulator.sh stop 4566

clean: ## Remove build output, the venv and local state
	cargo clean
	rm -rf .venv .venv-package .local
