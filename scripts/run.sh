#!/usr/bin/env bash
# Set up and run the assistant: trains a model if none exists, then chats in the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/bpbot run "$@"
