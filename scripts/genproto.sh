#!/usr/bin/env bash
# Regenerates onnxrewrite/onnxpb/onnx.pb.go from onnx.proto. Installs protoc
# (Debian's protobuf-compiler) and protoc-gen-go at the version go.mod pins
# when they are missing. Only needed after editing onnx.proto: the generated
# file is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v protoc >/dev/null; then
  apt-get update -qq && apt-get install -y -qq protobuf-compiler
fi
ver=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
bin="$root/.tools/bin"
if [ ! -x "$bin/protoc-gen-go" ] || ! "$bin/protoc-gen-go" --version | grep -q "${ver#v}"; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$ver"
fi
cd "$root/onnxrewrite/onnxpb"
PATH="$bin:$PATH" protoc --proto_path=. --go_out=. --go_opt=paths=source_relative onnx.proto
