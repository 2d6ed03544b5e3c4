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
#
# When the mirror lists the source but does not serve its files (3.14 from sid, 2026-11),
# the GIL build falls back to Debian's own binary packages of that suite, run against the
# suite's glibc in a private sysroot (sysroot_install below).  A free-threaded build has no
# such fallback: Debian ships no free-threaded binary, so without the source it is
# UNAVAILABLE.  Exit 3 (and a last stdout line "UNAVAILABLE: reason") means the pieces
# cannot be had here; callers skip that interpreter.
set -euo pipefail
# The whole script is one brace group, parsed before it runs: editing or checking out this
# file during a build (minutes) cannot make bash read a half-old, half-new script.
{
usage() { echo "usage: $0 3.13|3.14 [--free-threaded] [--print-sources]" >&2; exit 2; }
log() { echo "[python-build $TAG] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# Exit 3 tells callers (tools/run-suite.sh) the interpreter cannot be had here (neither its
# source nor a binary that works), unlike a failed build; the last stdout line says why.
unavailable() { log "UNAVAILABLE: $*"; echo "UNAVAILABLE: $*"; rm -rf "$BUILD_DIR" "$STAGE"; exit 3; }

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

# A prefix made by sysroot_install holds this file; its last line, "verified ...", is
# written once the interpreter passed every check there.
SYSROOT_MARK="$PREFIX/GORT-SYSROOT"

# The interpreter is complete (pip is the last thing installed; for a sysroot, the marker's
# "verified" line) and has the GIL state its variant promises.  A sysroot has no pip of its
# own (Debian's ensurepip installs pip into venvs only): there ensurepip's wheel must be
# where its sysconfig says.  PYTHON_GIL in the caller's env would override the GIL state,
# so it is unset.
built() {
  local kind=source
  if [ -e "$SYSROOT_MARK" ]; then
    tail -n 1 "$SYSROOT_MARK" | grep -q '^verified ' || return 1
    kind=sysroot
  fi
  [ -x "$PY" ] && env -u PYTHON_GIL -u PYTHONPATH -u PYTHONHOME "$PY" -c '
import sys, sysconfig
from pathlib import Path
ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
assert sys.version_info[:2] == tuple(map(int, sys.argv[1].split("."))), sys.version
assert ft == (sys.argv[2] == "1"), "wrong variant"
assert not ft or not sys._is_gil_enabled(), "free-threaded build runs with the GIL"
if sys.argv[3] == "source":
    import pip
else:
    assert list(Path(sysconfig.get_config_var("WHEEL_PKG_DIR")).glob("pip-*.whl")), "no pip wheel"
' "$VERSION" "$FT" "$kind" >/dev/null 2>&1
}

# deb-src stanzas for SUITE on the machine's own Debian mirrors (deb stanzas with
# "deb_src deb", for sysroot_install).  apt itself parses the
# configured sources (one-line sources.list and deb822 .sources, skipping disabled ones);
# the Debian archive is the URI serving the release's codename, debian-security the one
# serving CODENAME-security.  So no host is named here.
deb_src() {
  local type="${1:-deb-src}" codename targets archive security
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
  targets=$(apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)') \
    || die "apt could not read the machine's sources"
  archive=$(awk -v s="$codename" '$1 == s || $1 == s "-updates" { print $2; exit }' <<<"$targets")
  security=$(awk -v s="$codename" '$1 == s "-security" || $1 == s "/updates" { print $2; exit }' <<<"$targets")
  [ -n "$archive" ] || die "no apt source serves '$codename'; cannot tell which Debian mirror to use"
  printf 'Types: %s\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
    "$type" "$archive" "$SUITE" /usr/share/keyrings/debian-archive-keyring.gpg
  # sid has no security suite; stable releases get their python3.X fixes there.
  if [ -n "$security" ] && [ "$SUITE" != sid ]; then
    printf '\nTypes: %s\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
      "$type" "$security" "$SUITE" /usr/share/keyrings/debian-archive-keyring.gpg
  fi
}

# ---- Fallback for a GIL build whose source the mirror does not serve: Debian's binary
# packages of SUITE in a private sysroot.
# sid's python3.14 binaries need sid's glibc (2.43; bookworm has 2.36).  So they are unpacked
# (dpkg-deb -x; nothing is installed on the machine) into the prefix together with SUITE's
# libc6 and each library package the host lacks or has too old (libssl3t64 >= 3.4 here), and
# the interpreter binary is pointed at them with patchelf: its program interpreter becomes
# the sysroot's ld.so and its DT_RPATH the sysroot's library dirs.  DT_RPATH, not RUNPATH:
# an executable's RPATH also serves the libraries that lib-dynload's extension modules
# load (their lookups would not see the executable's RUNPATH).  Every other library comes
# from the host (libffi, sqlite, ncurses...): code linked against an older glibc runs on a
# newer one.  The binary runs directly, so sys.executable works in subprocesses and venvs.

# The interpreter's packages; Debian's ensurepip takes pip and setuptools from the -whl ones.
SYSROOT_PKGS=("python$VERSION" "python$VERSION-minimal" "libpython$VERSION-minimal"
  "libpython$VERSION-stdlib" "libpython$VERSION" "libpython$VERSION-dev" "python$VERSION-dev"
  "python$VERSION-venv" python3-pip-whl python3-setuptools-whl libc6)

# Private apt state with deb entries for SUITE (BAPT: apt options to use it), updated once.
BAPT=()
bin_apt() {
  [ "${#BAPT[@]}" = 0 ] || return 0
  local d="$BUILD_DIR/bapt"
  mkdir -p "$d"/{sources,lists/partial,cache/archives/partial}
  chown -R _apt "$d"/lists "$d"/cache 2>/dev/null || true
  deb_src deb > "$d/sources/gort-bin.sources"
  BAPT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$d/sources"
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache")
  apt-get "${BAPT[@]}" update -qq >>"$BUILD_DIR/fetch.log" 2>&1 \
    || unavailable "cannot read $SUITE's binary package index ($BUILD_DIR/fetch.log)"
}

# satisfied NAME [OP VERSION]: the host has NAME, or its name before Debian's t64
# transition (libssl3t64 was libssl3), installed at a version meeting OP VERSION.
satisfied() {
  local n have
  for n in "$1" "${1%t64}"; do
    have=$(dpkg-query -W -f='${Status} ${Version}\n' "$n" 2>/dev/null | awk '$3 == "installed" { print $4 }')
    [ -n "$have" ] || continue
    [ -z "${2:-}" ] && return 0
    dpkg --compare-versions "$have" "$2" "$3" && return 0
  done
  return 1
}

# host_lacks PKG...: the lib* packages that PKG... depend on (first alternative, followed
# through the ones added) and the host does not satisfy.
host_lacks() {
  local -A seen=()
  local queue=("$@") out=() p dep name op ver re='\(([<>=]+) *([^)]+)\)'
  for p in "$@"; do seen[$p]=1; done
  while [ "${#queue[@]}" -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    while read -r dep; do
      dep=${dep%%|*}; name=${dep%% *}; name=${name%%:*}
      case "$name" in lib*) ;; *) continue ;; esac
      [ -z "${seen[$name]:-}" ] || continue
      seen[$name]=1
      op=""; ver=""
      if [[ "$dep" =~ $re ]]; then op=${BASH_REMATCH[1]}; ver=${BASH_REMATCH[2]}; fi
      satisfied "$name" "$op" "$ver" && continue
      out+=("$name"); queue+=("$name")
    done < <(apt-cache "${BAPT[@]}" show --no-all-versions "$p" 2>/dev/null \
               | sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',' '\n' | sed 's/^ *//')
  done
  echo "${out[@]}"
}

sysroot_install() {
  local p extra=() pkgs ldso interp c rpath="" dir wrapper
  if ! command -v patchelf >/dev/null; then
    log "installing patchelf"
    ( flock 8
      apt-get update -qq >&2
      apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 patchelf >&2
    ) 8>"$APT_LOCK" || unavailable "patchelf (needed to point $SUITE's binary at its glibc) does not install"
  fi
  bin_apt
  for p in "${SYSROOT_PKGS[@]}"; do
    apt-cache "${BAPT[@]}" show --no-all-versions "$p" >/dev/null 2>&1 \
      || unavailable "$SUITE lists no binary package $p"
  done
  read -r -a extra <<<"$(host_lacks "${SYSROOT_PKGS[@]}")"
  pkgs=("${SYSROOT_PKGS[@]}" "${extra[@]}")
  log "downloading $SUITE's ${pkgs[*]}"
  mkdir -p "$BUILD_DIR/debs"; chown _apt "$BUILD_DIR/debs" 2>/dev/null || true
  (cd "$BUILD_DIR/debs" && apt-get "${BAPT[@]}" download "${pkgs[@]}" >>"$BUILD_DIR/fetch.log" 2>&1) \
    || unavailable "the mirror does not serve $SUITE's binary packages: $(grep -m1 -E '^(Err|E):' "$BUILD_DIR/fetch.log")"

  # Unpack into a stage on the prefix's filesystem; paths written into it are the final ones.
  rm -rf "$STAGE"; mkdir -p "$STAGE"
  for p in "$BUILD_DIR"/debs/*.deb; do dpkg-deb -x "$p" "$STAGE"; done
  local bin="$STAGE/usr/bin/python$VERSION"
  [ -x "$bin" ] || die "no usr/bin/python$VERSION in $SUITE's packages"
  interp=$(patchelf --print-interpreter "$bin")
  ldso=""
  for c in "$STAGE$interp" "$STAGE/usr$interp"; do   # sid is merged-/usr: usr/lib64/ld-linux...
    [ -e "$c" ] && { ldso=$(realpath "$c"); break; }
  done
  case "$ldso" in "$STAGE"/*) ;; *) die "$SUITE's libc6 has no $interp" ;; esac
  # Library dirs: wherever the unpacked packages put versioned shared libraries (not the
  # stdlib's, not gconv's or openssl's plugins).
  while read -r dir; do rpath+="${rpath:+:}$PREFIX${dir#"$STAGE"}"; done < <(
    find "$STAGE" -path "$STAGE/usr/lib/python3*" -prune -o -name 'lib*.so.[0-9]*' -printf '%h\n' | sort -u)
  patchelf --set-interpreter "$PREFIX${ldso#"$STAGE"}" --force-rpath --set-rpath "$rpath" "$bin"
  # Debian's ensurepip takes its wheels from WHEEL_PKG_DIR (/usr/share/python-wheels, the
  # host's, with an older pip): point it at the sysroot's.
  for p in "$STAGE/usr/lib/python$VERSION"/_sysconfigdata_*.py; do
    sed -i "s|'WHEEL_PKG_DIR': '\(/[^']*\)'|'WHEEL_PKG_DIR': '$PREFIX\1'|" "$p"
  done
  # Debian's include/python3.X/pyconfig.h only includes <TRIPLET/python3.X/pyconfig.h>, which
  # a compiler finds under the host's /usr/include alone: put the real one in its place.
  for p in "$STAGE"/usr/include/*/"python$VERSION"/pyconfig.h; do
    [ -f "$p" ] && cp --remove-destination "$p" "$STAGE/usr/include/python$VERSION/pyconfig.h"
  done
  mkdir -p "$STAGE/bin"
  ln -s "../usr/bin/python$VERSION" "$STAGE/bin/python$VERSION"
  { echo "Debian $SUITE's binary python$VERSION (GIL), run against $SUITE's own glibc in this"
    echo "private sysroot; made by gort's tools/python-build.sh because the mirror serves no"
    echo "python$VERSION source.  Packages (dpkg-deb -x):"
    for p in "$BUILD_DIR"/debs/*.deb; do dpkg-deb -W --showformat='  ${Package} ${Version}\n' "$p"; done
    echo "usr/bin/python$VERSION patched: interpreter $PREFIX${ldso#"$STAGE"}, DT_RPATH $rpath"
  } > "$STAGE/GORT-SYSROOT"
  case "$PREFIX" in /*/*) ;; *) die "refusing to replace prefix '$PREFIX'" ;; esac
  rm -rf "$PREFIX"
  mv "$STAGE" "$PREFIX"

  # It must run here: every extension module imports, venv gets pip, the headers compile.
  local err="$BUILD_DIR/verify.log"
  unset PYTHONPATH PYTHONHOME PYTHON_GIL
  if ! { "$PY" -c '
import importlib, pathlib, sys, sysconfig
for m in ["ssl", "ctypes", "sqlite3", "decimal", "venv", "lzma", "bz2", "zlib", "readline", "uuid"]:
    importlib.import_module(m)
for f in sorted(pathlib.Path(sysconfig.get_path("platstdlib"), "lib-dynload").glob("*.so")):
    importlib.import_module(f.name.split(".")[0])
print(sys.version)
' && "$PY" -m venv "$BUILD_DIR/venv" && "$BUILD_DIR/venv/bin/python" -m pip --version \
      && { ! command -v cc >/dev/null || printf '#include <Python.h>\nint main(void) { return Py_IsInitialized(); }\n' \
             | cc -fsyntax-only -x c -I"$("$PY" -c 'import sysconfig; print(sysconfig.get_path("include"))')" -; }
     } >"$err" 2>&1; then
    cat "$err" >&2
    rm -rf "$PREFIX"
    unavailable "Debian $SUITE's python$VERSION does not work in a sysroot here: $(grep -m1 -iE 'error|not found' "$err" || tail -n 1 "$err")"
  fi
  echo "verified $(date -u +%Y-%m-%dT%H:%M:%SZ): $(head -n 1 "$err"), extension modules, venv with pip, Python.h" >> "$SYSROOT_MARK"
}

# The source cannot be had: a GIL build falls back to the binary packages; a free-threaded
# one has none to fall back to (Debian builds python3.X with the GIL only), and the index is
# checked for one so that the reason says so.
no_source() {
  if [ "$FT" = 1 ]; then
    bin_apt
    local ft
    ft=$(apt-cache "${BAPT[@]}" pkgnames \
           | { grep -E "^(lib)?python${VERSION//./\\.}(t|-nogil|-freethreading)([-.]|$)" || true; } | sort | tr '\n' ' ')
    [ -n "$ft" ] || unavailable "$1, and $SUITE has no free-threaded python$VERSION binary package (none named python${VERSION}t*, python$VERSION-nogil*)"
    unavailable "$1; $SUITE lists $ft which this script does not unpack (yet)"
  fi
  log "$1; using Debian $SUITE's binary packages in a private sysroot instead"
  sysroot_install
  built || die "$PY does not pass the checks after sysroot_install"
  log "done in $(( $(date +%s) - start ))s; removing $BUILD_DIR"
  rm -rf "$BUILD_DIR"
  echo "$PY"
  exit 0
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
[ -n "$versions" ] || no_source "$SUITE's sources list no python$VERSION"
got=""
for v in $versions; do
  if (cd "$BUILD_DIR/dl" && apt-get "${APT[@]}" source -qq --download-only "python$VERSION=$v" \
        >>"$BUILD_DIR/fetch.log" 2>&1); then
    got=$v; break
  fi
  log "python$VERSION=$v: $(grep -m1 -o '[0-9][0-9][0-9] *Not Found' "$BUILD_DIR/fetch.log" || echo 'fetch failed'), trying an older one"
  rm -f "$BUILD_DIR"/dl/*
done
[ -n "$got" ] || no_source "the mirror serves none of python$VERSION $(echo $versions) from $SUITE"
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
