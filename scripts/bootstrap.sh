#!/usr/bin/env bash
# Set up everything napari-superanimal needs on a fresh machine, idempotently:
#   - the Debian packages napari needs to draw under Xvfb (installed when root, listed otherwise),
#   - .venv at the repo root, with torch/torchvision pinned and installed first
#     (pip takes these exact releases from local disk; anything else downloads gigabytes),
#   - this package (editable) with its test and benchmark extras,
#   - napari's reader preference, so `napari video.mp4` opens with this plugin without a dialog,
#     written on every run (napari or a user may have reset the settings since).
# Re-running is cheap: a stamp file records what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
TORCH_PINS=(torch==2.14.1 torchvision==0.29.1)
APT_PACKAGES=(xvfb xauth libgl1 libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0
  libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1 libglib2.0-0 ffmpeg)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

stamp=.venv/.bootstrap-stamp
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  .venv/bin/napari-superanimal register-reader --quiet
  exit 0
fi
# This machine's pip config lists local indexes that are partly absent; drop that noise only.
pip_install() {
  .venv/bin/python -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_install --upgrade pip
pip_install "${TORCH_PINS[@]}"
pip_install -e ".[test,bench]" "${TORCH_PINS[@]}"
.venv/bin/napari-superanimal register-reader --quiet
echo "$want" > "$stamp"
echo "bootstrap: .venv ready"
