#!/usr/bin/env bash
# demo.sh is embshrink's main job on the bundled example model: it installs
# what is needed (ONNX Runtime), builds embshrink, then inspects the example,
# compresses it with calibration ids, validates the result on held-out ids
# in ONNX Runtime, and sweeps a few settings against the reference
# quantisations into OUTPUT_DIR/sweep.html. Run it again and compress and
# sweep reuse the learned codes.
#
#   bash scripts/demo.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-onnxruntime.sh >/dev/null
mkdir -p .tools/bin
# -buildvcs=auto: the binary (and the provenance it writes) names the
# commit even where GOFLAGS turns VCS stamping off.
go build -buildvcs=auto -o .tools/bin/embshrink ./cmd/embshrink
embshrink=.tools/bin/embshrink

ex=fixtures/testdata/example
out=${1:-.demo}
mkdir -p "$out"

set -x
"$embshrink" --version
"$embshrink" inspect "$ex/textclf.onnx"
"$embshrink" compress "$ex/textclf.onnx" -o "$out/textclf_small.onnx" --ratio 10 \
	--calibration "$ex/calibration_ids.npy" --codes-dir "$out/codes"
"$embshrink" validate "$ex/textclf.onnx" "$out/textclf_small.onnx" --inputs "ids=$ex/heldout_ids.npy"
# A small sweep: two code settings and the three reference quantisations,
# each validated on the held-out ids; the smallest that passes is printed
# as its compress command.
"$embshrink" sweep "$ex/textclf.onnx" -M 8,16 -K 16 --calibration "$ex/calibration_ids.npy" \
	--inputs "ids=$ex/heldout_ids.npy" --codes-dir "$out/codes" --report "$out/sweep.html"
