#!/usr/bin/env bash
# Install the JavaScript consumer's dependencies exactly as locked (CI calls this).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
