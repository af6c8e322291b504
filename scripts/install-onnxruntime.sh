#!/usr/bin/env bash
# install-onnxruntime.sh installs the ONNX Runtime 1.30.0 shared library
# (linux x64, CPU) that embshrink loads through github.com/yalue/onnxruntime_go,
# by running `embshrink runtime install` (package onnxrewrite/ort/install pins
# the version and the sha256, the one place that does).
#
# The library is taken from the npm package onnxruntime-node@1.30.0, which
# ships it at package/bin/napi-v6/linux/x64/libonnxruntime.so.1. `npm pack`
# only downloads the tarball (npm checks it against the registry's integrity
# hash); no install scripts run. The extracted file is checked against the
# pinned sha256 before it is renamed into place.
#
# Install folder: ${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-1.30.0}
# Set EMBSHRINK_ORT_TGZ to an already downloaded onnxruntime-node-1.30.0.tgz
# to skip the download.
#
# Running it again when the library is present and its hash matches does
# nothing. On success the library's path is printed on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec go run ./cmd/embshrink runtime install
