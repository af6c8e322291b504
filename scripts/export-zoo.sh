#!/usr/bin/env bash
# export-zoo.sh writes the exporter-made zoo (fixtures/zoo/export.py): small
# models of the architectures people compress, exported by PyTorch's own
# torch.onnx.export from Debian's python3-torch 1.13, which it installs with
# python3-onnx and python3-numpy when /usr/bin/python3 lacks them.
#
#   bash scripts/export-zoo.sh          # (re)write fixtures/testdata/zoo
#   bash scripts/export-zoo.sh --check  # export to a temporary folder and
#                                       # compare with the committed SHA256SUMS
#
# The models are committed (with SHA256SUMS), so that tests and CI need no
# torch; the export is deterministic (fixed seeds), so --check passes on a
# machine with the same torch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! /usr/bin/python3 -c 'import torch, onnx, numpy' 2>/dev/null; then
	echo "export-zoo.sh: installing python3-torch, python3-onnx and python3-numpy for /usr/bin/python3" >&2
	sudo=
	if [[ $(id -u) -ne 0 ]]; then
		sudo=sudo
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-torch python3-onnx python3-numpy
fi

dest=fixtures/testdata/zoo
if [[ ${1:-} == --check ]]; then
	dest=$(mktemp -d)
	trap 'rm -rf "$dest"' EXIT
fi
/usr/bin/python3 -W ignore fixtures/zoo/export.py "$dest" 2>/dev/null
if [[ ${1:-} == --check ]]; then
	diff fixtures/testdata/zoo/SHA256SUMS "$dest/SHA256SUMS"
	echo "export-zoo.sh: the export matches the committed models"
else
	(cd "$dest" && sha256sum -c --quiet SHA256SUMS)
	echo "export-zoo.sh: wrote $dest"
fi
