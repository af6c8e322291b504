#!/usr/bin/env bash
# test.sh runs the repository's checks. It first provides what the tests
# need: the ONNX Runtime library (scripts/install-onnxruntime.sh) and
# Debian's python3-numpy and python3-onnx for /usr/bin/python3 (numpy interop
# tests of onnxrewrite/npy; onnx.checker as an independent check of
# rewritten models), and Debian's chromium for the browser test of
# internal/sweepreport (scripts/install-chromium.sh; when it cannot be
# installed the run goes on and that test skips), and the real
# tokenizer.json files internal/tokenizer is compared on
# (scripts/install-tokenizer-refs.sh --files-only, in the background
# meanwhile; when they cannot be had that comparison skips), then runs go
# vet and go test on every package.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tokref_log=$(mktemp)
bash scripts/install-tokenizer-refs.sh --files-only >/dev/null 2>"$tokref_log" &
tokref_pid=$!

bash scripts/install-onnxruntime.sh

if ! /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null; then
	echo "test.sh: installing python3-numpy and python3-onnx for /usr/bin/python3" >&2
	sudo=
	if [[ $(id -u) -ne 0 ]]; then
		sudo=sudo
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-numpy python3-onnx
fi

if ! bash scripts/install-chromium.sh >/dev/null; then
	echo "test.sh: chromium could not be installed; the sweepreport browser test will skip" >&2
fi

go vet ./...
if ! wait "$tokref_pid"; then
	echo "test.sh: the real tokenizer.json files could not be installed; internal/tokenizer's comparison with the references will skip:" >&2
	cat "$tokref_log" >&2
fi
rm -f "$tokref_log"
go test ./...
