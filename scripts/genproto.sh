#!/usr/bin/env bash
# Regenerates onnxrewrite/onnxpb/onnx.pb.go from onnx.proto. Only needed after
# editing onnx.proto: the generated file is committed.
#
# onnx.proto is in edition 2023 (proto3 semantics, strings not checked for
# UTF-8), which Debian's protoc 3.21 cannot read, so it is compiled with buf
# (linux x64), taken from the npm package @bufbuild/buf-linux-x64: `npm pack`
# only downloads the tarball (npm checks it against the registry's integrity
# hash); no install scripts run. buf and protoc-gen-go (at the version go.mod
# pins) are installed into .tools/bin when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"
bufver=1.75.0
if [ ! -x "$bin/buf" ] || [ "$("$bin/buf" --version)" != "$bufver" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@bufbuild/buf-linux-x64@$bufver" >/dev/null &&
    tar xzf "bufbuild-buf-linux-x64-$bufver.tgz" package/bin/buf)
  mv "$tmp/package/bin/buf" "$bin/buf"
fi
ver=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
if [ ! -x "$bin/protoc-gen-go" ] || ! "$bin/protoc-gen-go" --version | grep -q "${ver#v}"; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$ver"
fi
cd "$root/onnxrewrite/onnxpb"
PATH="$bin:$PATH" buf generate --template \
  '{"version":"v2","plugins":[{"local":"protoc-gen-go","out":".","opt":"paths=source_relative"}]}'
