#!/usr/bin/env bash
# Refetch the vendored Swagger UI (the API docs page) from the npm registry package
# swagger-ui-dist at a pinned release: ./scripts/update_swagger_ui.sh 5.36.0
# Only the files the page loads are kept, with the licence; README.md records the version.
set -euo pipefail
version="${1:?usage: $0 <swagger-ui-dist version, e.g. 5.36.0>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/apf_core/api/static/swagger-ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
mkdir -p "$dest"
for name in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
  cp "$work/package/$name" "$dest/$name"
done
# the bundle's trailing source-map comment names a file that is not shipped
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$dest/swagger-ui.css"
cat >"$dest/README.md" <<TXT
# Swagger UI $version (vendored)

From the npm registry package \`swagger-ui-dist@$version\` (Apache-2.0, see LICENSE and
NOTICE): only \`swagger-ui-bundle.js\` and \`swagger-ui.css\`, source-map comments removed.
Served by \`apf serve\` under \`/public/v1/docs/assets/\`; nothing is loaded from a CDN.
Refetch another release with \`scripts/update_swagger_ui.sh <version>\`.
TXT
echo "$version" >"$dest/VERSION"
echo "swagger-ui-dist $version -> $dest"
