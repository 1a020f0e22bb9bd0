# Everything a developer or CI needs, from a fresh clone with Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# checkov pins its own dependencies (they clash with ours): a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed
PORT ?= 8000
MOTO_PORT ?= 5000
FAKE_GRAPH_PORT ?= 5002
FAKE_X_PORT ?= 5003
export PORT MOTO_PORT FAKE_GRAPH_PORT FAKE_X_PORT
# No .pyc in the source tree: `chalice package` zips vendor/ (links to functions/ and shared/) while tests and
# `chalice local` import the same modules, and a cache file appearing mid-walk breaks the zip.
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run tips token area-topics sms-settings resend-acks replay-dlq deploy test lint checkov package bench clean

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Sampark needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## run: start the whole system locally on an embedded AWS (moto) and print how to use it
run: $(INSTALLED)
	$(BIN)/python -m tools.local_stack

## tips: the tips the running `make run` system holds, newest first (photos saved under build/local-media/)
tips: $(INSTALLED)
	$(BIN)/python -m tools.show_tips

## token: an access token for a local officer of the running `make run` (ROLE=officer|supervisor|admin, AREA=<area id>, NAME=<a second user>)
token: ROLE ?= officer
token: $(INSTALLED)
	$(BIN)/python -m tools.officer_token --role "$(ROLE)" $(if $(AREA),--area "$(AREA)") $(if $(NAME),--name "$(NAME)")

## deploy: build STAGE (prod) and deploy it as stack STACK with CloudFormation, then the post-deploy steps (REGION=ap-south-1, SPEND_LIMIT=<USD>, SENDER_ID=<DLT header>, PARAMETERS="Key=Value ...", YES=1 to skip the question)
deploy: STAGE ?= prod
deploy: $(INSTALLED)
	$(BIN)/python -m tools.deploy --stage "$(STAGE)" --stack-name "$(or $(STACK),sampark)" $(if $(REGION),--region "$(REGION)") $(if $(SPEND_LIMIT),--spend-limit "$(SPEND_LIMIT)") $(if $(SENDER_ID),--sender-id "$(SENDER_ID)") $(foreach p,$(PARAMETERS),--parameter "$(p)") $(if $(YES),--yes)

## sms-settings: after a deploy, the account's SNS SMS settings (STACK=, SPEND_LIMIT=<USD a month>, SENDER_ID=<DLT header>)
sms-settings: $(INSTALLED)
	$(BIN)/python -m tools.sms_settings --stack-name "$(or $(STACK),sampark)" --spend-limit "$(SPEND_LIMIT)" --sender-id "$(SENDER_ID)"

## area-topics: after a deploy, create the new-tip topic of every police area (STACK=<stack name>, AWS credentials)
area-topics: $(INSTALLED)
	$(BIN)/python -m tools.area_topics --stack-name "$(or $(STACK),sampark)"

## resend-acks: after the DLT settings arrive, queue the SMS acknowledgements that waited for them (STACK=, DAYS=7, DRY_RUN=1)
resend-acks: $(INSTALLED)
	$(BIN)/python -m tools.resend_acks --stack-name "$(or $(STACK),sampark)" $(if $(DAYS),--days "$(DAYS)") $(if $(DRY_RUN),--dry-run)

## replay-dlq: move a dead-letter queue's messages back to be processed again (QUEUE=<name|URL|logical id>, STACK=, MAX=<at most N>, DRY_RUN=1 to only list them)
replay-dlq: $(INSTALLED)
	$(BIN)/python -m tools.replay_dlq --queue "$(QUEUE)" --stack-name "$(or $(STACK),sampark)" $(if $(MAX),--max "$(MAX)") $(if $(DRY_RUN),--dry-run)

## test: lint, then every test (--dist loadfile: a file's tests share one worker, e.g. the one package build), then checkov
test: $(INSTALLED) lint
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(MAKE) --no-print-directory checkov

$(CHECKOV_INSTALLED): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

## checkov: the security checks on the packaged template (skips, each with its reason, are Metadata in infra/; README)
checkov: $(CHECKOV_INSTALLED) package
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f build/sam.json

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## package: chalice package + infra/ merge template -> build/sam.json and build/deployment.zip (with bytecode)
package: $(INSTALLED)
	$(BIN)/python -m tools.package build

## bench: benchmark figures, as ratios to baselines measured in the same run
bench: $(INSTALLED)
	$(BIN)/python -m tools.bench

clean:
	rm -rf build .pytest_cache .ruff_cache .chalice/deployments
