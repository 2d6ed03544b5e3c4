#!/usr/bin/env bash
# Build CPython VERSION (3.13 or 3.14), with the GIL or free-threaded (--disable-gil),
# once; cache it outside the repo and print the interpreter path as the last stdout line.
#
#   tools/python-build.sh 3.14 [--free-threaded]   # -> /opt/gort-python-3.14t/bin/python3.14t
#   tools/python-build.sh 3.14 --print-sources     # only show the deb-src entries it would use
#
# Source: Debian's python3.X source package (Debian and PyPI are the only registries
# reachable here, so no python.org tarball), unpacked without Debian's patches and built
# as plain upstream.  The deb-src entries live in a private apt state under the build
# dir: nothing is added to the machine's apt sources.  Runs as root.
set -euo pipefail
# The whole script is one brace group, parsed before it runs: editing or checking out this
# file during a build (minutes) cannot make bash read a half-old, half-new script.
{
usage() { echo "usage: $0 3.13|3.14 [--free-threaded] [--print-sources]" >&2; exit 2; }
log() { echo "[python-build $TAG] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# Exit 3 tells callers (tools/run-suite.sh) the source cannot be had here, unlike a failed build.
unavailable() { log "UNAVAILABLE: $*"; rm -rf "$BUILD_DIR"; exit 3; }

VERSION="${1:-}"; shift || true
FT=0; PRINT_SOURCES=0
for a in "$@"; do
  case "$a" in
    --free-threaded) FT=1 ;;
    --print-sources) PRINT_SOURCES=1 ;;
    *) usage ;;
  esac
done
# The Debian suite whose sources carry python3.X.  3.14 is only in the development
# suites (sid and forky; checked with apt-cache madison, 2026-11); sid gets new
# upstream releases first.
case "$VERSION" in
  3.13) SUITE=trixie ;;
  3.14) SUITE=sid ;;
  *) usage ;;
esac
T=""; [ "$FT" = 1 ] && T=t
TAG="$VERSION$T"
ROOT="${GORT_PYTHON_ROOT:-/opt}"
PREFIX="$ROOT/gort-python-$TAG"
# tools/python-ft.sh put 3.13t here; keeping the path keeps existing caches and venvs valid.
[ "$TAG" = 3.13t ] && PREFIX="${GORT_FT_PREFIX:-$ROOT/gort-python-ft}"
PY="$PREFIX/bin/python$TAG"
BUILD_DIR="/var/tmp/gort-python-build-$TAG"
STAGE="$ROOT/.gort-python-stage-$TAG"   # same filesystem as PREFIX, so the final mv is a rename
LOCK="/run/lock/gort-python-$TAG.lock"
APT_LOCK=/run/lock/gort-python-apt.lock
export DEBIAN_FRONTEND=noninteractive

# The interpreter is complete (pip is the last thing installed) and has the GIL state its
# variant promises.  PYTHON_GIL in the caller's env would override that, so it is unset.
built() {
  [ -x "$PY" ] && env -u PYTHON_GIL -u PYTHONPATH -u PYTHONHOME "$PY" -c '
import sys, sysconfig, pip
ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
assert sys.version_info[:2] == tuple(map(int, sys.argv[1].split("."))), sys.version
assert ft == (sys.argv[2] == "1"), "wrong variant"
assert not ft or not sys._is_gil_enabled(), "free-threaded build runs with the GIL"
' "$VERSION" "$FT" >/dev/null 2>&1
}

# deb-src stanzas for SUITE on the machine's own Debian mirrors.  apt itself parses the
# configured sources (one-line sources.list and deb822 .sources, skipping disabled ones);
# the Debian archive is the URI serving the release's codename, debian-security the one
# serving CODENAME-security.  So no host is named here.
deb_src() {
  local codename targets archive security
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
  targets=$(apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)') \
    || die "apt could not read the machine's sources"
  archive=$(awk -v s="$codename" '$1 == s || $1 == s "-updates" { print $2; exit }' <<<"$targets")
  security=$(awk -v s="$codename" '$1 == s "-security" || $1 == s "/updates" { print $2; exit }' <<<"$targets")
  [ -n "$archive" ] || die "no apt source serves '$codename'; cannot tell which Debian mirror to use"
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
    "$archive" "$SUITE" /usr/share/keyrings/debian-archive-keyring.gpg
  # sid has no security suite; stable releases get their python3.X fixes there.
  if [ -n "$security" ] && [ "$SUITE" != sid ]; then
    printf '\nTypes: deb-src\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
      "$security" "$SUITE" /usr/share/keyrings/debian-archive-keyring.gpg
  fi
}

if [ "$PRINT_SOURCES" = 1 ]; then deb_src; exit 0; fi

# Fast path: already built.
if built; then echo "$PY"; exit 0; fi

[ "$(id -u)" = 0 ] || die "must run as root (installs apt packages, writes $PREFIX)"

# One build per target at a time (make -j may start the same one twice); the second
# waits, then finds the first one's result.
exec 9>"$LOCK"
flock 9
if built; then log "built by a concurrent run"; echo "$PY"; exit 0; fi
start=$(date +%s)

# python-ft.sh used to add this file (naming a mirror host); the build no longer needs it.
old=/etc/apt/sources.list.d/gort-trixie-src.sources
if [ -f "$old" ]; then log "removing $old (left by tools/python-ft.sh)"; rm -f "$old"; fi

# Upstream build deps, all from the machine's own release.  Only apt-get when one is
# missing; the lock serialises this across targets, the timeout waits for other apt users.
DEPS=(build-essential pkg-config libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
      libsqlite3-dev libreadline-dev uuid-dev libgdbm-dev libgdbm-compat-dev libncurses-dev
      libzstd-dev libexpat1-dev)
missing=()
for p in "${DEPS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing build deps: ${missing[*]}"
  (
    flock 8
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2
  ) 8>"$APT_LOCK"
fi

# Fresh build dir each time: a half-finished earlier build is not trusted.
rm -rf "$BUILD_DIR" "$STAGE"
mkdir -p "$BUILD_DIR"/apt/{sources,lists/partial,cache/archives/partial} "$BUILD_DIR"/dl
chown -R _apt "$BUILD_DIR"/apt/lists "$BUILD_DIR"/dl 2>/dev/null || true  # apt downloads as _apt
deb_src > "$BUILD_DIR/apt/sources/gort-src.sources"
APT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$BUILD_DIR/apt/sources"
     -o Dir::State::Lists="$BUILD_DIR/apt/lists" -o Dir::Cache="$BUILD_DIR/apt/cache")
log "fetching source package python$VERSION from $SUITE"
apt-get "${APT[@]}" update -qq >&2
# Newest first; an index can list a version whose files the mirror does not have (yet).
versions=$(apt-cache "${APT[@]}" madison "python$VERSION" | awk '{print $3}' | sort -rV)
[ -n "$versions" ] || unavailable "$SUITE's sources list no python$VERSION"
got=""
for v in $versions; do
  if (cd "$BUILD_DIR/dl" && apt-get "${APT[@]}" source -qq --download-only "python$VERSION=$v" \
        >>"$BUILD_DIR/fetch.log" 2>&1); then
    got=$v; break
  fi
  log "python$VERSION=$v: $(grep -m1 -o '[0-9][0-9][0-9] *Not Found' "$BUILD_DIR/fetch.log" || echo 'fetch failed'), trying an older one"
  rm -f "$BUILD_DIR"/dl/*
done
[ -n "$got" ] || unavailable "the mirror serves none of python$VERSION $(echo $versions) from $SUITE"
# Only the upstream tarball: Debian's patches disable ensurepip and change the layout.
orig=$(ls "$BUILD_DIR"/dl/python"$VERSION"_*.orig.tar.* | grep -v "\.asc$" | tail -n 1)
log "unpacking $(basename "$orig")"
mkdir "$BUILD_DIR/src"
tar -xf "$orig" -C "$BUILD_DIR/src" --strip-components=1
[ -x "$BUILD_DIR/src/configure" ] || die "no configure in $orig"

# A recipe from an outer make (make -j test) must not leak its flags or jobserver into
# CPython's make, nor the caller's Python settings into the build's own interpreter.
unset MAKEFLAGS MFLAGS MAKELEVEL PYTHONPATH PYTHONHOME PYTHON_GIL
cd "$BUILD_DIR/src"
LOGF="$BUILD_DIR/build.log"
# Plain upstream build, no PGO/LTO: minutes, not an hour.  Output goes to a log (tens of
# thousands of lines); on failure its tail is shown and the build dir is kept.
run() { "$@" >>"$LOGF" 2>&1 || { tail -n 40 "$LOGF" >&2; die "'$*' failed; log: $LOGF"; }; }
cfg=(--prefix="$PREFIX" --with-ensurepip=install)
[ "$FT" = 1 ] && cfg+=(--disable-gil)
log "configure ${cfg[*]}"
run ./configure "${cfg[@]}"
log "make -j$(nproc)"
run make -j"$(nproc)"
# Install into a stage (make install runs ensurepip there too), then move it in place
# with one rename: an interrupted run never leaves a half-installed prefix behind.
log "make install"
run make install DESTDIR="$STAGE"
case "$PREFIX" in /*/*) ;; *) die "refusing to replace prefix '$PREFIX'" ;; esac
rm -rf "$PREFIX"
mv "$STAGE$PREFIX" "$PREFIX"
rm -rf "$STAGE"

built || die "$PY does not pass the checks (version, variant, GIL off when free-threaded, pip)"
log "done in $(( $(date +%s) - start ))s; removing $BUILD_DIR"
rm -rf "$BUILD_DIR"
echo "$PY"
exit 0
}
