#!/usr/bin/env bash
# Runs every example under Node, Deno and Bun with small settings (CI calls this after the build).
#   examples/run-all.sh                 all runtimes
#   RUNTIMES="node bun" examples/run-all.sh
# Deno and Bun come from the root devDependencies (node_modules/.bin) unless DENO / BUN point
# elsewhere. Deno resolves the @tessera/* packages through node_modules (the workspace links),
# which it does on its own when a package.json sits at the root.
set -uo pipefail
cd "$(dirname "$0")/.."

export TESSERA_EXAMPLES_SMALL=1
DENO="${DENO:-node_modules/.bin/deno}"
BUN="${BUN:-node_modules/.bin/bun}"
RUNTIMES="${RUNTIMES:-node deno bun}"
EXAMPLES="worked-math train-gpt2 generate classify-spam"

failed=0
summary=()
for runtime in $RUNTIMES; do
  case "$runtime" in
    node) cmd=(node) ;;
    deno) cmd=("$DENO" run -A --no-lock) ;;
    bun) cmd=("$BUN") ;;
    *) echo "unknown runtime $runtime" >&2; exit 2 ;;
  esac
  for example in $EXAMPLES; do
    echo "=== $runtime: $example"
    SECONDS=0
    if "${cmd[@]}" "examples/$example/main.mjs" --small; then status=ok; else status=FAILED; failed=$((failed + 1)); fi
    summary+=("$(printf '%-7s %-14s %-7s %3ds' "$runtime" "$example" "$status" "$SECONDS")")
  done
done

echo
echo "runtime example        result  time"
printf '%s\n' "${summary[@]}"
exit $((failed > 0))
