#!/usr/bin/env bash
# Prints the path of libchdb.so, the embedded ClickHouse engine, fetching it
# first when neither CHDB_LIB_PATH nor a system copy nor the cache has it.
# The library (about 570 MB) comes from the npm package that ships it.
set -euo pipefail

version="26.7.3-stable.1"
package="@chdb/lib-linux-x64-gnu@${version}"
cache="${AGENTPULSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agentpulse}/chdb-${version}"

if [ -n "${CHDB_LIB_PATH:-}" ]; then
  if [ -f "$CHDB_LIB_PATH" ]; then
    echo "$CHDB_LIB_PATH"
    exit 0
  fi
  echo "CHDB_LIB_PATH=$CHDB_LIB_PATH does not exist; unset it to fetch the library" >&2
  exit 1
fi
for p in /usr/local/lib/libchdb.so "$cache/libchdb.so"; do
  if [ -f "$p" ]; then
    echo "$p"
    exit 0
  fi
done

case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "the embedded store needs Linux x86_64 (got $(uname -sm)); use a ClickHouse server instead" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "npm is needed to fetch $package" >&2; exit 1; }

echo "fetching $package (about 180 MB) into $cache" >&2
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$package" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/libchdb.so
mv "$tmp/package/libchdb.so" "$cache/libchdb.so"
echo "$cache/libchdb.so"
