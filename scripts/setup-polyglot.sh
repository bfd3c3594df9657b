#!/usr/bin/env bash
# Installs, from Debian packages, what test/polyglot needs besides Node: protoc (buf runs it for the
# `protoc_builtin` plugins of buf.gen.python.yaml), grpc_python_plugin, and grpcio + protobuf for the
# system python3. Idempotent and quiet: installs only missing packages, runs `apt-get update` only
# when a package has no install candidate, prints one line per package installed, exits 0 when
# everything is present. Used by .ci/run; see docs/clients.md.
set -euo pipefail

# package → what the polyglot test uses it for
packages=(
  protobuf-compiler      # protoc 3.21
  protobuf-compiler-grpc # grpc_python_plugin 1.51
  python3-grpcio         # grpcio 1.51 (pulls in python3)
  python3-protobuf       # protobuf runtime 3.21 / 4.21, matching protoc
)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-polyglot: not a Debian-based system; install protoc, grpc_python_plugin and python3 with grpcio and protobuf yourself (docs/clients.md)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup-polyglot: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo -n)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
run() {
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1; then
    echo "setup-polyglot: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

# The package lists are only refreshed when apt does not know a package (e.g. a fresh container).
for p in "${missing[@]}"; do
  if ! apt-cache show "$p" >/dev/null 2>&1; then
    run apt-get update -qq
    break
  fi
done

run apt-get install -y -qq --no-install-recommends "${missing[@]}"
for p in "${missing[@]}"; do
  echo "setup-polyglot: installed $p $(dpkg-query -W -f='${Version}' "$p")"
done
