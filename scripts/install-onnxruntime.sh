#!/usr/bin/env bash
# install-onnxruntime.sh installs the ONNX Runtime 1.30.0 shared library
# (linux x64, CPU) that embshrink loads through github.com/yalue/onnxruntime_go.
#
# The library is taken from the npm package onnxruntime-node@1.30.0, which
# ships it at package/bin/napi-v6/linux/x64/libonnxruntime.so.1. `npm pack`
# only downloads the tarball (npm checks it against the registry's integrity
# hash); no install scripts run. The extracted file is checked against the
# sha256 below before it is moved into place.
#
# Install folder: ${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-1.30.0}
# Set EMBSHRINK_ORT_TGZ to an already downloaded onnxruntime-node-1.30.0.tgz
# to skip the download.
#
# Running it again when the library is present and its hash matches does
# nothing. On success the library's path is printed on stdout.
set -euo pipefail

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

dir=${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-$ORT_VERSION}
lib=$dir/libonnxruntime.so.1

die() { echo "install-onnxruntime: $*" >&2; exit 1; }

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "only linux x86_64 is supported (this is $(uname -s)/$(uname -m))" ;;
esac

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f $lib ]]; then
	if [[ $(hash_of "$lib") == "$ORT_SHA256" ]]; then
		echo "$lib"
		exit 0
	fi
	echo "install-onnxruntime: $lib has an unexpected sha256; reinstalling" >&2
fi

mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/embshrink-ort.XXXXXX")
part=
trap 'rm -rf "$tmp"; [[ -z $part ]] || rm -f "$part"' EXIT

if [[ -n ${EMBSHRINK_ORT_TGZ:-} ]]; then
	tgz=$EMBSHRINK_ORT_TGZ
	[[ -f $tgz ]] || die "EMBSHRINK_ORT_TGZ=$tgz: no such file"
else
	command -v npm >/dev/null || die "npm is needed to download onnxruntime-node@$ORT_VERSION"
	echo "install-onnxruntime: downloading onnxruntime-node@$ORT_VERSION (about 113 MB)" >&2
	(cd "$tmp" && npm pack --silent --ignore-scripts "onnxruntime-node@$ORT_VERSION" >/dev/null) ||
		die "npm pack onnxruntime-node@$ORT_VERSION failed"
	tgz=$tmp/onnxruntime-node-$ORT_VERSION.tgz
	[[ -f $tgz ]] || die "npm pack did not produce $tgz"
fi

tar -xzf "$tgz" -C "$tmp" "$MEMBER" || die "$tgz has no $MEMBER"
got=$(hash_of "$tmp/$MEMBER")
[[ $got == "$ORT_SHA256" ]] || die "sha256 of $MEMBER is $got, want $ORT_SHA256"

# Copy next to the destination, then rename, so a reader never sees half a file.
part=$(mktemp "$dir/.libonnxruntime.so.1.XXXXXX")
cp "$tmp/$MEMBER" "$part"
chmod 0644 "$part"
sync "$part" 2>/dev/null || true
mv -f "$part" "$lib"
echo "$lib"
