#!/usr/bin/env bash
# Build a free-threaded (--disable-gil) CPython 3.13 once, cache it outside the
# repo, and print the interpreter path on the last stdout line.
# Source: Debian trixie's python3.13 source package (the only registries we can
# reach are Debian/PyPI/npm, so no python.org tarball). Runs as root.
set -euo pipefail

PREFIX="${GORT_FT_PREFIX:-/opt/gort-python-ft}"
PY="$PREFIX/bin/python3.13t"
BUILD_DIR=/var/tmp/gort-ft-build
SRC_LIST=/etc/apt/sources.list.d/gort-trixie-src.sources
export DEBIAN_FRONTEND=noninteractive

log() { echo "[python-ft] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# PYTHON_GIL=1 in the caller's env would re-enable the GIL and force a rebuild.
is_ft() { [ -x "$PY" ] && env -u PYTHON_GIL "$PY" -c 'import sys; assert not sys._is_gil_enabled()' 2>/dev/null; }

# Fast path: already built and really free-threaded.
if is_ft; then echo "$PY"; exit 0; fi

[ "$(id -u)" = 0 ] || die "must run as root (installs apt packages, writes $PREFIX)"

# Source-only entries for trixie, same mirror hosts as the machine's bookworm
# sources; deb-src only, so binary packages still come from bookworm.
if [ ! -f "$SRC_LIST" ]; then
  log "adding trixie deb-src entries in $SRC_LIST"
  cat > "$SRC_LIST" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

log "apt-get update + build deps"
apt-get update -qq >&2
# Upstream build deps that exist in bookworm (dpkg-dev lets apt-get source unpack).
apt-get install -y -qq --no-install-recommends dpkg-dev build-essential pkg-config \
  libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev \
  libreadline-dev uuid-dev libgdbm-dev libgdbm-compat-dev libncurses-dev >&2

# Fresh build dir each time: a half-finished earlier build is not trusted.
rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR"; cd "$BUILD_DIR"
chown _apt "$BUILD_DIR" 2>/dev/null || true  # lets apt download sandboxed (no warning)
log "fetching python3.13 source package into $BUILD_DIR"
apt-get source -qq --download-only python3.13 >&2 \
  || die "could not fetch Debian source package python3.13 (trixie deb-src unreachable?)"
# Unpack WITHOUT Debian's patches: they disable ensurepip and change install layout.
dpkg-source --skip-patches -x python3.13_*.dsc src >&2
[ -x src/configure ] || die "unpacked source tree not found in $BUILD_DIR/src"
cd src

# Plain upstream build (not debian/rules); no PGO/LTO, so it takes minutes.
log "configure --disable-gil --prefix=$PREFIX"
./configure --disable-gil --prefix="$PREFIX" >&2
log "make -j$(nproc)"
make -j"$(nproc)" >&2
log "make install"
make install >&2

"$PY" -m ensurepip >&2
is_ft || die "$PY is not free-threaded (sys._is_gil_enabled() is not False)"
log "done; removing $BUILD_DIR"
rm -rf "$BUILD_DIR"
echo "$PY"
