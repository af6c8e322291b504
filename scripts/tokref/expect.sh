#!/usr/bin/env bash
# expect.sh writes the reference token ids of the tokenizer comparison:
# for each tokenizer that scripts/install-tokenizer-refs.sh installed
# (tokref/tok/NAME) and each reference (transformers, tokenizers),
#
#   tokref/expected/multilingual/NAME.IMPL.jsonl   fixtures/testdata/text/multilingual.txt
#   tokref/expected/mixed/NAME.IMPL.jsonl          tokref/text/mixed.txt, 5,000 lines
#                                                  from go run ./fixtures/gentext -seed 1
#
# one JSON array of ids per line (ref.mjs), then prints per file and text
# the lines where the two references differ (scripts/tokref/compare.mjs).
# A reference that fails on a file leaves NAME.IMPL.err instead.
#
#   bash scripts/tokref/expect.sh [NAME...]    # default: every installed file
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

T=$(bash scripts/install-tokenizer-refs.sh)
mkdir -p "$T/text" "$T/expected/multilingual" "$T/expected/mixed"
cp fixtures/testdata/text/multilingual.txt "$T/text/multilingual.txt"
go run ./fixtures/gentext -n 5000 -seed 1 -o "$T/text/mixed.txt"

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
	for d in "$T"/tok/*/; do
		names+=("$(basename "$d")")
	done
fi

for text in multilingual mixed; do
	for name in "${names[@]}"; do
		for impl in transformers tokenizers; do
			out=$T/expected/$text/$name.$impl
			rm -f "$out.jsonl" "$out.err"
			if ! node scripts/tokref/ref.mjs --impl "$impl" --tokenizer "$T/tok/$name" --text "$T/text/$text.txt" \
				>"$out.jsonl.part" 2>"$out.err"; then
				echo "expect.sh: $impl failed on $name ($text): $(head -c 300 "$out.err")" >&2
				rm -f "$out.jsonl.part"
				continue
			fi
			mv "$out.jsonl.part" "$out.jsonl"
			rm -f "$out.err"
		done
	done
done
node scripts/tokref/compare.mjs "$T" "${names[@]}"

# The Rust reference's ids on multilingual.txt are also committed, gzipped,
# as internal/tokenizer/testdata/rust/NAME.jsonl.gz: the tests compare with
# them where only the tokenizer files are installed (scripts/test.sh runs
# install-tokenizer-refs.sh --files-only, without node and the references).
mkdir -p internal/tokenizer/testdata/rust
for name in "${names[@]}"; do
	src=$T/expected/multilingual/$name.tokenizers.jsonl
	if [[ -f $src ]]; then
		gzip -9n <"$src" >"internal/tokenizer/testdata/rust/$name.jsonl.gz"
	fi
done
