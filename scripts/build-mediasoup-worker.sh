#!/usr/bin/env bash
# Build the mediasoup C++ worker against Debian system libraries (no network),
# cache the binary, and install it into node_modules/mediasoup.
#
# mediasoup's own postinstall downloads meson subprojects from the internet,
# which is unavailable here. Instead we copy the worker sources to a scratch
# dir, patch its meson.build files to use system dependency()s, and build.
#
# SRTP: by default the worker is linked statically with libsrtp2 built from Debian's own source package
# (libsrtp2 2.5.0-3, the same upstream tarball as mediasoup's meson wrap) with its OpenSSL crypto backend, as
# mediasoup's own prebuilt workers are. Debian's libsrtp2-1 uses NSS (PK11 calls for every AES block run and
# HMAC), which costs the worker ~10 % more CPU per viewer. The two source files are downloaded once from
# deb.debian.org into the cache, checked against pinned SHA-256 sums, and the static library is cached too: a
# second run needs no network. WHIPCAST_SRTP=system links Debian's libsrtp2-dev instead (no download).
#
# Env:
#   WHIPCAST_CACHE_DIR   cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/whipcast)
#   WHIPCAST_SRTP        "openssl" (default: static libsrtp2 from Debian's source, OpenSSL crypto) or "system"
#   WHIPCAST_DEBIAN_MIRROR  where Debian's source package is fetched from (default https://deb.debian.org/debian)
#   WHIPCAST_KEEP_BUILD  if "1", keep the scratch source/build dir after success
#   MEDIASOUP_BUILD_JOBS ninja -j value (default: ninja's own default)
set -euo pipefail

log() { printf '[mediasoup-worker] %s\n' "$*"; }
die() { printf '[mediasoup-worker] ERROR: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/.." && pwd -P)"
MS_DIR="${REPO_ROOT}/node_modules/mediasoup"
MS_PKG="${MS_DIR}/package.json"
[[ -f "${MS_PKG}" ]] || die "mediasoup not installed (${MS_PKG} missing); run npm install first"
command -v node >/dev/null 2>&1 || die "node not found in PATH"

MS_VERSION="$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version)' "${MS_PKG}")"
[[ -n "${MS_VERSION}" ]] || die "could not read mediasoup version from ${MS_PKG}"
ARCH="$(uname -m)"

CACHE_DIR="${WHIPCAST_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/whipcast}"
# Our patches of the worker's C++ (scripts/patches/mediasoup-worker-*.patch, each explained in its header): the
# cached binary is keyed by their content too, so a changed patch is rebuilt and never mixed up with another build.
WORKER_PATCHES=("${SCRIPT_DIR}"/patches/mediasoup-worker-*.patch)

# libsrtp2 (see the header). Everything that changes the static library is in SRTP_ID, and SRTP_ID is in the
# worker's cache key: a worker linked with another libsrtp2 is never taken from the cache.
SRTP_MODE="${WHIPCAST_SRTP:-openssl}"
SRTP_DEB_VERSION=2.5.0-3
SRTP_UPSTREAM_VERSION=2.5.0
SRTP_ORIG="libsrtp2_${SRTP_UPSTREAM_VERSION}.orig.tar.gz"
SRTP_ORIG_SHA256=8a43ef8e9ae2b665292591af62aa1a4ae41e468b6d98d8258f91478735da4e09
SRTP_DEBIAN="libsrtp2_${SRTP_DEB_VERSION}.debian.tar.xz"
SRTP_DEBIAN_SHA256=3a3cafa12033d32cd0d5ad4d78f102bc6d998f7d67a17f262c436d0734865af4
SRTP_MIRROR="${WHIPCAST_DEBIAN_MIRROR:-https://deb.debian.org/debian}"
SRTP_MESON_OPTIONS=(--buildtype release -Ddefault_library=static -Db_staticpic=true -Db_ndebug=true
  -Dcrypto-library=openssl -Dcrypto-library-kdf=disabled -Dtests=disabled -Dpcap-tests=disabled -Ddoc=disabled
  -Dfuzzer=disabled --libdir lib)
case "${SRTP_MODE}" in
  openssl) SRTP_ID="srtp2-${SRTP_DEB_VERSION}-openssl-$(printf '%s\n' "${SRTP_MESON_OPTIONS[*]}" | sha256sum | cut -c1-8)" ;;
  system) SRTP_ID="srtp2-system" ;;
  *) die "WHIPCAST_SRTP must be \"openssl\" or \"system\", not \"${SRTP_MODE}\"" ;;
esac

PATCH_KEY="$({ cat "${WORKER_PATCHES[@]}"; printf '%s\n' "${SRTP_ID}"; } | sha256sum | cut -c1-12)"
BUILD_ID="${MS_VERSION}-${ARCH}-${PATCH_KEY}"
SOURCES_DIR="${CACHE_DIR}/sources"
SRTP_PREFIX="${CACHE_DIR}/${SRTP_ID}-${ARCH}"
CACHED_BIN="${CACHE_DIR}/mediasoup-worker-${BUILD_ID}"
BUILD_LOG="${CACHE_DIR}/mediasoup-worker-${BUILD_ID}.build.log"
WORK_DIR="${CACHE_DIR}/build-${BUILD_ID}"
LOCK_FILE="${CACHE_DIR}/.mediasoup-worker-${BUILD_ID}.lock"
TARGET_BIN="${MS_DIR}/worker/out/Release/mediasoup-worker"

# The worker exits with code 41 ("you don't seem to be my real father!") when
# started without MEDIASOUP_VERSION. Getting 41 proves the binary loads (all
# shared libs resolve) and reaches main(); anything else means it is unusable.
bin_runs() {
  local bin="$1" rc=0
  [[ -f "${bin}" && -x "${bin}" ]] || return 1
  env -u MEDIASOUP_VERSION "${bin}" </dev/null >/dev/null 2>&1 || rc=$?
  [[ "${rc}" -eq 41 ]]
}

check_apt_packages() {
  local required=(meson ninja-build pkg-config g++ libsrtp2-dev libabsl-dev
    libuv1-dev libssl-dev libusrsctp-dev nlohmann-json3-dev)
  local missing=() pkg status
  for pkg in "${required[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)"
    # pkgconf provides pkg-config on Debian 12; accept either.
    if [[ "${pkg}" == pkg-config && "${status}" != installed ]]; then
      status="$(dpkg-query -W -f='${db:Status-Status}' pkgconf 2>/dev/null || true)"
    fi
    [[ "${status}" == installed ]] || missing+=("${pkg}")
  done
  if ((${#missing[@]})); then
    printf '[mediasoup-worker] ERROR: missing apt packages: %s\n' "${missing[*]}" >&2
    printf '[mediasoup-worker] install them with: apt-get install -y %s\n' "${missing[*]}" >&2
    exit 2
  fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_source FILE SHA256: Debian's source file into ${SOURCES_DIR} (kept; never downloaded twice).
fetch_source() {
  local name="$1" sum="$2" dest="${SOURCES_DIR}/$1" url
  url="${SRTP_MIRROR}/pool/main/libs/libsrtp2/${name}"
  if [[ -f "${dest}" && "$(sha256_of "${dest}")" == "${sum}" ]]; then
    return 0
  fi
  mkdir -p "${SOURCES_DIR}"
  log "downloading ${url}"
  local tmp="${dest}.part.$$" ok=0
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --connect-timeout 15 --max-time 300 --retry 2 -o "${tmp}" "${url}" && ok=1
  elif command -v wget >/dev/null 2>&1; then
    wget -q --timeout=15 --tries=3 -O "${tmp}" "${url}" && ok=1
  else
    die "neither curl nor wget is installed: cannot download ${url}"
  fi
  if [[ "${ok}" != 1 ]]; then
    rm -f "${tmp}"
    printf '[mediasoup-worker] ERROR: could not download %s\n' "${url}" >&2
    printf '[mediasoup-worker]   (libsrtp2 with OpenSSL crypto is built from Debian'"'"'s source package).\n' >&2
    printf '[mediasoup-worker]   Fix the network or WHIPCAST_DEBIAN_MIRROR, or put %s (sha256 %s) into %s,\n' "${name}" "${sum}" "${SOURCES_DIR}" >&2
    printf '[mediasoup-worker]   or build against Debian'"'"'s libsrtp2-dev (NSS, ~10 %% more CPU per viewer): WHIPCAST_SRTP=system\n' >&2
    exit 3
  fi
  local got
  got="$(sha256_of "${tmp}")"
  if [[ "${got}" != "${sum}" ]]; then
    rm -f "${tmp}"
    die "${url}: SHA-256 ${got} is not the expected ${sum}"
  fi
  mv -f "${tmp}" "${dest}"
}

# The static libsrtp2 (OpenSSL crypto) in ${SRTP_PREFIX}, built once from Debian's source package.
build_libsrtp2() {
  local stamp="${SRTP_PREFIX}/.complete"
  if [[ -f "${stamp}" && -f "${SRTP_PREFIX}/lib/libsrtp2.a" && -f "${SRTP_PREFIX}/include/srtp2/srtp.h" ]]; then
    log "using cached libsrtp2 ${SRTP_PREFIX}"
    return 0
  fi
  fetch_source "${SRTP_ORIG}" "${SRTP_ORIG_SHA256}"
  fetch_source "${SRTP_DEBIAN}" "${SRTP_DEBIAN_SHA256}"
  local work="${CACHE_DIR}/build-${SRTP_ID}" srtp_log="${CACHE_DIR}/${SRTP_ID}.build.log" p
  log "building libsrtp2 ${SRTP_DEB_VERSION} (static, OpenSSL crypto); log: ${srtp_log}"
  rm -rf "${work}" "${SRTP_PREFIX}"
  mkdir -p "${work}"
  tar -xzf "${SOURCES_DIR}/${SRTP_ORIG}" -C "${work}" || die "cannot unpack ${SOURCES_DIR}/${SRTP_ORIG}"
  local src="${work}/libsrtp-${SRTP_UPSTREAM_VERSION}"
  [[ -f "${src}/meson.build" ]] || die "${SRTP_ORIG} has no libsrtp-${SRTP_UPSTREAM_VERSION}/meson.build"
  tar -xJf "${SOURCES_DIR}/${SRTP_DEBIAN}" -C "${src}" || die "cannot unpack ${SOURCES_DIR}/${SRTP_DEBIAN}"
  # Debian's own patches (quilt series; in 2.5.0-3 they touch only tests and docs).
  if [[ -f "${src}/debian/patches/series" ]]; then
    while read -r p; do
      [[ -z "${p}" || "${p}" == \#* ]] && continue
      patch -s -p1 -d "${src}" <"${src}/debian/patches/${p}" || die "cannot apply Debian patch ${p} to libsrtp2"
    done <"${src}/debian/patches/series"
  fi
  if ! {
    (cd "${src}" && meson setup "${SRTP_MESON_OPTIONS[@]}" --prefix "${SRTP_PREFIX}" --wrap-mode=nofallback "${work}/build") &&
      ninja -C "${work}/build" install
  } >"${srtp_log}" 2>&1; then
    printf '[mediasoup-worker] ERROR: libsrtp2 build failed; last 30 lines of %s:\n' "${srtp_log}" >&2
    tail -n 30 "${srtp_log}" >&2
    exit 1
  fi
  [[ -f "${SRTP_PREFIX}/lib/libsrtp2.a" ]] || die "libsrtp2 build installed no ${SRTP_PREFIX}/lib/libsrtp2.a"
  grep -Eq '^#define OPENSSL( 1)?$' "${work}/build/config.h" || die "libsrtp2 was not configured with OpenSSL crypto (see ${srtp_log})"
  : >"${stamp}"
  rm -rf "${work}"
}

# Patch the copied worker meson files to use Debian system libraries.
# Exact string replacements; fails loudly if the expected text is not found.
# $2: the static libsrtp2's prefix, or "" for Debian's shared libsrtp2.
patch_meson_files() {
  node - "$1" "${2:-}" <<'NODE'
const fs = require('fs');
const path = require('path');
const srcDir = process.argv[2];
const srtpPrefix = process.argv[3];
const mesonString = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function patchFile(rel, edits) {
  const file = path.join(srcDir, rel);
  let text = fs.readFileSync(file, 'utf8');
  for (const [from, to, expected = 1] of edits) {
    const count = text.split(from).length - 1;
    if (count !== expected) {
      console.error(`[mediasoup-worker] ERROR: patch ${rel}: expected ${expected} occurrence(s) of:\n${from}\n...found ${count}`);
      process.exit(1);
    }
    text = text.split(from).join(to);
  }
  fs.writeFileSync(file, text);
}

const subprojectsBlock = `openssl_proj = subproject(
  'openssl',
  default_options: [
    'warning_level=0',
  ],
)
nlohmann_json_proj = subproject(
  'nlohmann_json',
  default_options: [
    'warning_level=0',
  ],
)
libuv_proj = subproject(
  'libuv',
  default_options: [
    'warning_level=0',
    'build_tests=false',
    'build_benchmarks=false',
  ],
)
libsrtp2_proj = subproject(
  'libsrtp2',
  default_options: [
    'warning_level=0',
    'crypto-library=openssl',
    'crypto-library-kdf=disabled',
    'tests=disabled',
  ],
)
usrsctp_proj = subproject(
  'usrsctp',
  default_options: [
    'warning_level=0',
    'sctp_build_programs=false',
  ],
)
abseil_cpp_proj = subproject(
  'abseil-cpp',
  default_options: [
    'warning_level=0',
  ],
)
catch2_proj = subproject(
  'catch2',
  default_options: [
    'warning_level=0',
  ],
)
`;

const systemDeps = `# Patched by whipcast scripts/build-mediasoup-worker.sh: Debian system libraries.
openssl_dep = dependency('openssl')
nlohmann_json_dep = dependency('nlohmann_json')
libuv_dep = dependency('libuv')
\${LIBSRTP2}usrsctp_dep = dependency('usrsctp')
absl_dep_list = []
foreach absl_name : [
  'absl_flat_hash_map',
  'absl_flat_hash_set',
  'absl_btree',
  'absl_inlined_vector',
  'absl_memory',
  'absl_optional',
  'absl_strings',
]
  absl_dep_list += dependency(absl_name)
endforeach
absl_dep = declare_dependency(dependencies: absl_dep_list)
catch2_dep = dependency('catch2', required: false)
`;

const libsrtp2 = srtpPrefix
  ? `# libsrtp2 built by scripts/build-mediasoup-worker.sh from Debian's source, OpenSSL crypto, linked statically.
libsrtp2_dep = declare_dependency(
  link_args: [${mesonString(path.join(srtpPrefix, 'lib', 'libsrtp2.a'))}],
  include_directories: include_directories(${mesonString(path.join(srtpPrefix, 'include', 'srtp2'))}),
  dependencies: openssl_dep,
)
`
  : `libsrtp2_sys_dep = dependency('libsrtp2')
# The worker does #include <srtp.h>; Debian installs it in <includedir>/srtp2.
libsrtp2_dep = declare_dependency(
  dependencies: libsrtp2_sys_dep,
  include_directories: include_directories(
    libsrtp2_sys_dep.get_variable(pkgconfig: 'includedir') / 'srtp2',
  ),
)
`;

patchFile('meson.build', [
  ["  meson_version: '>= 1.1.0',", "  meson_version: '>= 1.0.1',"],
  [subprojectsBlock, systemDeps.replace('${LIBSRTP2}', libsrtp2)],
  [`dependencies = [
  abseil_cpp_proj.get_variable('absl_container_dep'),
  openssl_proj.get_variable('openssl_dep'),
  nlohmann_json_proj.get_variable('nlohmann_json_dep'),
  libuv_proj.get_variable('libuv_dep'),
  libsrtp2_proj.get_variable('libsrtp2_dep'),
  usrsctp_proj.get_variable('usrsctp_dep'),
  libwebrtc_dep,
]`, `dependencies = [
  absl_dep,
  openssl_dep,
  nlohmann_json_dep,
  libuv_dep,
  libsrtp2_dep,
  usrsctp_dep,
  libwebrtc_dep,
]`],
  [`link_whole = [
  abseil_cpp_proj.get_variable('absl_container_lib'),
  openssl_proj.get_variable('libcrypto_lib'),
  openssl_proj.get_variable('libssl_lib'),
  libuv_proj.get_variable('libuv'),
  libsrtp2_proj.get_variable('libsrtp2'),
  usrsctp_proj.get_variable('usrsctp'),
  libwebrtc,
]`, `link_whole = [
  libwebrtc,
]`],
  ["catch2_proj.get_variable('catch2_dep')", 'catch2_dep', 2],
]);

patchFile('deps/libwebrtc/meson.build', [
  [`abseil_cpp_proj = subproject(
  'abseil-cpp',
  default_options: [
    'warning_level=0',
  ],
)
`, ''],
  ["openssl_proj.get_variable('openssl_dep')", 'openssl_dep', 1],
  ["abseil_cpp_proj.get_variable('absl_strings_dep'),\n    abseil_cpp_proj.get_variable('absl_types_dep'),", 'absl_dep,', 2],
  ["nlohmann_json_proj.get_variable('nlohmann_json_dep')", 'nlohmann_json_dep', 1],
  ["libuv_proj.get_variable('libuv_dep')", 'libuv_dep', 1],
]);

// Sanity: nothing may still reference a subproject.
for (const rel of ['meson.build', 'deps/libwebrtc/meson.build']) {
  const text = fs.readFileSync(path.join(srcDir, rel), 'utf8');
  const m = text.match(/^.*(_proj\b|subproject\().*$/m);
  if (m && !/wingetopt/.test(m[0])) {
    console.error(`[mediasoup-worker] ERROR: ${rel} still references a subproject: ${m[0].trim()}`);
    process.exit(1);
  }
}
NODE
}

build_worker() {
  local src="${WORK_DIR}/src" bld="${WORK_DIR}/build" start=${SECONDS}
  check_apt_packages
  [[ -f "${MS_DIR}/worker/meson.build" ]] || die "worker sources not found in ${MS_DIR}/worker"

  log "building mediasoup-worker ${MS_VERSION} (${ARCH}) against system libs; log: ${BUILD_LOG}"
  rm -rf "${WORK_DIR}"
  mkdir -p "${src}"
  # Copy only what the build needs (skip any previous out/ dir and subproject downloads).
  local item
  for item in meson.build meson_options.txt include src deps; do
    cp -a "${MS_DIR}/worker/${item}" "${src}/"
  done
  # meson.build references these dirs only inside build_by_default:false targets,
  # but meson still checks include_directories() exist.
  for item in test fuzzer; do
    [[ -d "${MS_DIR}/worker/${item}" ]] && cp -a "${MS_DIR}/worker/${item}" "${src}/"
  done
  local srtp_prefix=""
  if [[ "${SRTP_MODE}" == openssl ]]; then
    build_libsrtp2
    srtp_prefix="${SRTP_PREFIX}"
  fi
  patch_meson_files "${src}" "${srtp_prefix}"
  log "patched meson.build for system dependencies (libsrtp2: ${SRTP_MODE})"
  local worker_patch
  for worker_patch in "${WORKER_PATCHES[@]}"; do
    patch -s -p1 -d "${src}" < "${worker_patch}" || die "cannot apply ${worker_patch}"
    log "applied $(basename "${worker_patch}")"
  done

  : >"${BUILD_LOG}"
  local ninja_args=(-C "${bld}" mediasoup-worker)
  [[ -n "${MEDIASOUP_BUILD_JOBS:-}" ]] && ninja_args=(-j "${MEDIASOUP_BUILD_JOBS}" "${ninja_args[@]}")
  if ! {
    log "meson setup..."
    (cd "${src}" && meson setup --buildtype release -Db_ndebug=true -Db_pie=true \
      -Db_staticpic=true --wrap-mode=nofallback "${bld}") >>"${BUILD_LOG}" 2>&1 &&
      log "compiling (takes a few minutes)..." &&
      ninja "${ninja_args[@]}" >>"${BUILD_LOG}" 2>&1
  }; then
    printf '[mediasoup-worker] ERROR: build failed; last 40 lines of %s:\n' "${BUILD_LOG}" >&2
    tail -n 40 "${BUILD_LOG}" >&2
    exit 1
  fi

  local out="${bld}/mediasoup-worker"
  bin_runs "${out}" || die "built binary ${out} does not run (see ${BUILD_LOG})"
  if [[ "${SRTP_MODE}" == openssl ]] && readelf -d "${out}" | grep -Eq 'NEEDED.*(libsrtp2|libnss3)'; then
    die "built binary ${out} still links a shared libsrtp2/NSS: $(readelf -d "${out}" | grep NEEDED | tr -s ' ' | tr '\n' ' ')"
  fi
  strip --strip-unneeded "${out}" 2>/dev/null || true
  cp -p "${out}" "${CACHED_BIN}.tmp.$$"
  chmod 0755 "${CACHED_BIN}.tmp.$$"
  mv -f "${CACHED_BIN}.tmp.$$" "${CACHED_BIN}"
  if [[ "${WHIPCAST_KEEP_BUILD:-0}" != 1 ]]; then
    rm -rf "${WORK_DIR}"
  fi
  log "built in $((SECONDS - start))s -> ${CACHED_BIN}"
}

mkdir -p "${CACHE_DIR}"

if bin_runs "${CACHED_BIN}"; then
  log "using cached ${CACHED_BIN}"
else
  # Serialise concurrent invocations; re-check the cache once we hold the lock.
  exec 9>"${LOCK_FILE}"
  if command -v flock >/dev/null 2>&1; then
    flock -n 9 || { log "another build is running; waiting for lock..."; flock 9; }
  fi
  if bin_runs "${CACHED_BIN}"; then
    log "using cached ${CACHED_BIN} (built by concurrent run)"
  else
    [[ -e "${CACHED_BIN}" ]] && log "cached binary exists but does not run; rebuilding"
    build_worker
  fi
  exec 9>&-
fi

if [[ -f "${TARGET_BIN}" ]] && cmp -s "${CACHED_BIN}" "${TARGET_BIN}" && [[ -x "${TARGET_BIN}" ]]; then
  log "already installed: ${TARGET_BIN}"
else
  mkdir -p "$(dirname -- "${TARGET_BIN}")"
  # Copy to a temp file then rename: atomic, and works even if a worker is running.
  cp -p "${CACHED_BIN}" "${TARGET_BIN}.tmp.$$"
  chmod 0755 "${TARGET_BIN}.tmp.$$"
  mv -f "${TARGET_BIN}.tmp.$$" "${TARGET_BIN}"
  log "installed ${TARGET_BIN}"
fi
