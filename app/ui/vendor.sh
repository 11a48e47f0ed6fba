#!/usr/bin/env bash
# Re-vendor the web app's three libraries from the npm registry (needs npm; `make run` does not).
# Usage: bash app/ui/vendor.sh  — then review the diff of app/ui/static/vendor/.
set -euo pipefail
PREACT=preact@10.29.8 HTM=htm@3.1.1 GRAPHQL_WS=graphql-ws@5.16.2
here="$(cd "$(dirname "$0")" && pwd)"
vendor="$here/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
for spec in "$PREACT" "$HTM" "$GRAPHQL_WS"; do
  name="${spec%@*}"
  mkdir -p "$name"
  tar xzf "$(npm pack --silent "$spec")" -C "$name"
done
rm -rf "$vendor" && mkdir -p "$vendor"/{preact,htm,graphql-ws}
cp preact/package/dist/preact.module.js preact/package/hooks/dist/hooks.module.js preact/package/LICENSE "$vendor/preact/"
# The hooks import the bare specifier "preact"; without an import map (an inline script the
# Content-Security-Policy would refuse) the browser needs a relative path.
sed -i 's#from"preact"#from"./preact.module.js"#' "$vendor/preact/hooks.module.js"
sed -i '/sourceMappingURL/d' "$vendor"/preact/*.js  # the source maps are not shipped
cp htm/package/dist/htm.module.js htm/package/LICENSE "$vendor/htm/"
cp graphql-ws/package/lib/{client,common,utils}.mjs graphql-ws/package/LICENSE.md "$vendor/graphql-ws/"
cat > "$vendor/VERSIONS" <<VERSIONS
$PREACT  dist/preact.module.js, hooks/dist/hooks.module.js (import of "preact" made relative)
$HTM  dist/htm.module.js
$GRAPHQL_WS  lib/client.mjs, lib/common.mjs, lib/utils.mjs
VERSIONS
