#!/usr/bin/env bash
# Cold start of `wgts --version` against `node -e 0` (the floor any Node CLI pays), with hyperfine.
# Appends a dated row to docs/benchmarks.md unless --no-record is given.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
node scripts/build.mjs
json=$(mktemp)
hyperfine -N --warmup 5 --runs 50 --export-json "$json" 'node -e 0' './bin/wgts --version' './bin/wgts genkey' >/dev/null
read -r floor wgts genkey < <(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  console.log(r.map((x) => (x.mean * 1000).toFixed(1)).join(" "));' "$json")
rm -f "$json"
ratio=$(node -e "console.log(($wgts / $floor).toFixed(2))")
bundle=$(du -k dist/wgts.mjs | cut -f1)   # the entry only: subcommands are lazy chunks in dist/chunks
printf 'node -e 0: %s ms   wgts --version: %s ms (%sx)   wgts genkey: %s ms   bundle: %s KiB\n' "$floor" "$wgts" "$ratio" "$genkey" "$bundle"
if [ "${1:-}" != "--no-record" ]; then
  row=$(printf '| %s | %s | %s | %s ms | %s ms | %s× | %s ms | %s KiB |' "$(date -u +%F)" "$(git rev-parse --short HEAD)" \
    "$(node --version)" "$floor" "$wgts" "$ratio" "$genkey" "$bundle")
  # Insert after the last row of the cold-start table (other sections follow it in the file).
  ROW="$row" node -e '
    const fs = require("fs"); const f = "docs/benchmarks.md";
    const lines = fs.readFileSync(f, "utf8").split("\n");
    let i = lines.findIndex((l) => l.startsWith("## Cold start"));
    while (!lines[i].startsWith("| date")) i++;
    i++; while (i < lines.length && lines[i].startsWith("|")) i++;
    lines.splice(i, 0, process.env.ROW); fs.writeFileSync(f, lines.join("\n"));'
fi
