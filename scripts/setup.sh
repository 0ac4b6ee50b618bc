#!/usr/bin/env bash
# Installs everything whipcast needs on Debian 12 (bookworm), idempotently and fast on a second run:
#   Debian packages (when root; otherwise names the missing ones), npm dependencies (only when package-lock.json
#   changed), the mediasoup worker built against Debian's libraries (cached), and the TypeScript build.
#   scripts/setup.sh          what `npm start` needs
#   scripts/setup.sh --test   plus what the test suite needs (Debian chromium)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "[setup] $*"; }

runtime_packages=(ffmpeg meson ninja-build pkg-config g++ python3 patch libsrtp2-dev libabsl-dev libuv1-dev libssl-dev libusrsctp-dev nlohmann-json3-dev)
test_packages=(chromium nftables iproute2)
packages=("${runtime_packages[@]}")
[ "${1:-}" = "--test" ] && packages+=("${test_packages[@]}")

# 1. Node.js 20+ (Debian 12's own nodejs is 18: install Node 20 from your usual source first).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "[setup] whipcast needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# 2. Debian packages.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "[setup] missing Debian packages: ${missing[*]}" >&2
    echo "[setup] install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 3. npm dependencies, reinstalled only when package-lock.json changes. mediasoup's own postinstall would
#    download a prebuilt worker from GitHub; MEDIASOUP_WORKER_BIN set makes it skip that (we build our own).
stamp=node_modules/.whipcast-lock.sha256
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "installing npm dependencies (npm ci)"
  MEDIASOUP_WORKER_BIN=/nonexistent npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# 3b. Our patch of mediasoup's JavaScript (the half of per-consumer numbering that runs in Node; see
#     scripts/patches/mediasoup-ortc-consumer.patch), applied to the pristine file whenever the patch changes.
ortc_patch=scripts/patches/mediasoup-ortc-consumer.patch
ortc=node_modules/mediasoup/node/lib/ortc.js
ortc_stamp=node_modules/mediasoup/.whipcast-ortc.sha256
ortc_hash=$(sha256sum "$ortc_patch" | cut -d' ' -f1)
if [ "$(cat "$ortc_stamp" 2>/dev/null)" != "$ortc_hash" ]; then
  if [ ! -f "$ortc.orig" ] && grep -q 'whipcast patch' "$ortc"; then
    # Patched by an older setup that kept no pristine copy: reinstall the package to get one.
    say "reinstalling npm dependencies for a pristine mediasoup"
    MEDIASOUP_WORKER_BIN=/nonexistent npm ci --no-audit --no-fund --loglevel=error
  fi
  [ -f "$ortc.orig" ] || cp "$ortc" "$ortc.orig"
  cp "$ortc.orig" "$ortc"
  patch -s -p1 -d node_modules/mediasoup < "$ortc_patch"
  echo "$ortc_hash" > "$ortc_stamp"
  say "patched mediasoup's ortc.js ($ortc_patch)"
fi

# 4. The mediasoup worker, built from the npm package's own sources against Debian's libraries (cached).
bash scripts/build-mediasoup-worker.sh

# 5. TypeScript → dist/ (incremental).
npx tsc -p tsconfig.build.json
say "ready"
