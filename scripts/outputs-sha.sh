#!/usr/bin/env bash
# outputs-sha.sh OUTDIR: builds embshrink from this checkout and runs learn
# (4x16), rewrite (lookup and decode), compress (default, and
# --min-table-bytes 0 -M 4 -K 16) with --seed 1 on every fixture, the bundled
# example (also calibrated) and the models in ../shared, then prints the
# sha256 of every output, with the output folder's path masked in the
# printed text. Run it at two commits into two folders and diff the lists:
# a change that must not change behaviour leaves them equal.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: outputs-sha.sh OUTDIR}
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
(cd "$root" && go build -o "$out/embshrink" ./cmd/embshrink) || exit 1
E=$out/embshrink
shared=$root/../shared/data
models=$(ls "$root"/fixtures/testdata/*.onnx)
models="$models $root/fixtures/testdata/example/textclf.onnx"
for m in "$shared/vibe-sentiment/sentiment_model.onnx" "$shared/stories260k/stories260K_tied.onnx" "$shared/stories260k/stories260K_untied_folded.onnx"; do
	[[ -f $m ]] && models="$models $m"
done
mask() { sed -i -E "s#$out#OUT#g; s/[0-9]+\.[0-9]+s(;|\)| )/Ts\1/g" "$@" 2>/dev/null; }
for m in $models; do
	d=$out/$(basename "$m" .onnx)
	mkdir -p "$d"
	"$E" inspect "$m" >"$d/inspect.txt" 2>&1
	"$E" learn --model "$m" -M 4 -K 16 --codes "$d/c.npy" --codebook "$d/b.npy" >/dev/null 2>"$d/learn.err"
	if [[ -f $d/c.npy ]]; then
		for l in lookup decode; do
			"$E" rewrite "$m" --codes "$d/c.npy" --codebook "$d/b.npy" --layout $l -o "$d/rw_$l.onnx" >"$d/rw_$l.txt" 2>&1
			echo "rc=$?" >>"$d/rw_$l.txt"
		done
	fi
	"$E" compress "$m" --seed 1 -o "$d/cmp.onnx" >"$d/cmp.txt" 2>&1
	echo "rc=$?" >>"$d/cmp.txt"
	"$E" compress "$m" --seed 1 --min-table-bytes 0 -M 4 -K 16 -o "$d/cmp0.onnx" >"$d/cmp0.txt" 2>&1
	echo "rc=$?" >>"$d/cmp0.txt"
	mask "$d"/*.txt "$d"/*.err
done
ex=$root/fixtures/testdata/example
"$E" compress "$ex/textclf.onnx" --seed 1 --ratio 10 --calibration "$ex/calibration_ids.npy" -o "$out/ex_cal.onnx" >"$out/ex_cal.txt" 2>&1
mask "$out/ex_cal.txt"
cd "$out" && find . -type f ! -name embshrink | sort | xargs sha256sum
