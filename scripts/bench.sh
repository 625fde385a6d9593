#!/usr/bin/env bash
# Benchmark of the built binary (npm run bench; not a test): wall time and peak RSS per scenario, and size.
#
# Each row is one call:   measure "NAME" [VAR=value ...] -- COMMAND [ARGS...]
# The command runs under `env -i PATH=/usr/bin:/bin HOME=<tmp> VAR=value ...`: only the variables given, as in
# a pod. Timing: hyperfine -N (no shell) with warmup 3 and 20 runs, else a date +%s%N loop. Peak RSS: the
# median of 5 runs of /usr/bin/time -v, else python3's wait4 rusage. The exit code of one run is shown too, so
# a row that measures an error path by mistake is visible.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="$PWD/dist/irsa-doctor"
RUNS=20
WARMUP=3
RSS_RUNS=5
WORK="$PWD/.bench"
mkdir -p "$WORK"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if [[ ! -x "$BIN" ]]; then
  echo "dist/irsa-doctor is missing: building it (npm run build)" >&2
  npm run --silent build >&2
fi

# BENCH_FALLBACK=1 uses the fallbacks even when the tools are installed (to check them).
HYPERFINE="$(command -v hyperfine || true)"
GNU_TIME=""
[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 && GNU_TIME=/usr/bin/time
if [[ "${BENCH_FALLBACK:-}" == 1 ]]; then
  HYPERFINE=""
  GNU_TIME=""
fi
if [[ -z "$HYPERFINE" ]]; then
  echo "note: hyperfine is missing (apt-get install hyperfine); timing with a date +%s%N loop instead" >&2
fi
if [[ -z "$GNU_TIME" ]]; then
  echo "note: GNU time is missing (apt-get install time); peak RSS from python3 wait4 instead" >&2
fi

ROWS=()

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure NAME [VAR=value ...] -- COMMAND [ARGS...]
measure() {
  local name="$1"
  shift
  local envs=("PATH=/usr/bin:/bin" "HOME=$TMP")
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    envs+=("$1")
    shift
  done
  [[ "${1:-}" == "--" ]] && shift
  local cmd=("$@")
  local slug
  slug="$(echo "$name" | tr -c 'a-zA-Z0-9' '-' | tr -s '-')"

  local exit_code=0
  env -i "${envs[@]}" "${cmd[@]}" >/dev/null 2>&1 || exit_code=$?

  local mean sd median_ms range time_tool
  if [[ -n "$HYPERFINE" ]]; then
    local json="$WORK/$slug.json"
    # -i: error paths (exit 1) are measured too; the exit code column tells them apart.
    env -i "${envs[@]}" "$HYPERFINE" -N -i --warmup "$WARMUP" --runs "$RUNS" --export-json "$json" \
      --command-name="$name" -- "$(printf '%q ' "${cmd[@]}")" >/dev/null 2>&1
    read -r mean sd median_ms range < <(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results[0];
      const ms = (s) => (s * 1000).toFixed(1);
      console.log(ms(r.mean), ms(r.stddev ?? 0), ms(r.median), `${ms(r.min)}-${ms(r.max)}`);
    ' "$json")
    time_tool="hyperfine -N, ${RUNS} runs"
  else
    local samples=()
    for ((i = 0; i < WARMUP; i++)); do env -i "${envs[@]}" "${cmd[@]}" >/dev/null 2>&1 || true; done
    for ((i = 0; i < RUNS; i++)); do
      local t0 t1
      t0=$(date +%s%N)
      env -i "${envs[@]}" "${cmd[@]}" >/dev/null 2>&1 || true
      t1=$(date +%s%N)
      samples+=("$(((t1 - t0) / 1000))")
    done
    read -r mean sd < <(printf '%s\n' "${samples[@]}" | awk '{ s += $1; q += $1 * $1 } END { m = s / NR; printf "%.1f %.1f\n", m / 1000, sqrt(q / NR - m * m) / 1000 }')
    median_ms=$(printf '%s\n' "${samples[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }')
    range=$(printf '%s\n' "${samples[@]}" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo / 1000, hi / 1000 }')
    time_tool="date +%s%N loop, ${RUNS} runs (includes env exec)"
  fi

  local rss_kb=() rss_tool
  for ((i = 0; i < RSS_RUNS; i++)); do
    if [[ -n "$GNU_TIME" ]]; then
      rss_kb+=("$(env -i "${envs[@]}" "$GNU_TIME" -v "${cmd[@]}" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { print $2 }' || true)")
    elif command -v python3 >/dev/null; then
      rss_kb+=("$(python3 -c '
import os, subprocess, sys
envs = dict(e.split("=", 1) for e in sys.argv[1].split("\n") if e)
p = subprocess.Popen(sys.argv[2:], env=envs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, _, usage = os.wait4(p.pid, 0)
print(usage.ru_maxrss)
' "$(printf '%s\n' "${envs[@]}")" "${cmd[@]}")")
    fi
  done
  local rss="n/a"
  if [[ ${#rss_kb[@]} -gt 0 ]]; then
    rss=$(printf '%s\n' "${rss_kb[@]}" | median | awk '{ printf "%.1f", $1 / 1024 }')
    rss_tool=$([[ -n "$GNU_TIME" ]] && echo "/usr/bin/time -v, median of $RSS_RUNS" || echo "python3 wait4, median of $RSS_RUNS")
  else
    rss_tool="none (apt-get install time)"
  fi

  ROWS+=("$name|$exit_code|$mean ± $sd|$median_ms|$range|$rss|$time_tool|$rss_tool")
  echo "measured: $name" >&2
}

# ---- fixtures ----------------------------------------------------------------------------------------------
# A healthy IRSA pod: role, token file with valid claims for shop/cart, region, namespace.
TOKEN="$TMP/token"
node scripts/make-fixture-token.mjs "$TOKEN" shop cart
HEALTHY_IRSA=(
  "AWS_ROLE_ARN=arn:aws:iam::111122223333:role/cart-role"
  "AWS_WEB_IDENTITY_TOKEN_FILE=$TOKEN"
  "AWS_REGION=eu-west-1"
  "AWS_STS_REGIONAL_ENDPOINTS=regional"
  "POD_NAMESPACE=shop"
)

# ---- rows: add one line per scenario ------------------------------------------------------------------------
measure "--version" -- "$BIN" --version
measure "offline diagnosis, healthy IRSA env" "${HEALTHY_IRSA[@]}" -- "$BIN" --offline --output text
measure "offline diagnosis, no AWS env" -- "$BIN" --offline --output text
# The Ink path's extra cost (Ink + yoga load only for the TUI); on a pipe Ink draws the last frame only.
measure "offline diagnosis, healthy IRSA env, --output tui" "${HEALTHY_IRSA[@]}" -- "$BIN" --offline --output tui

# ---- report -------------------------------------------------------------------------------------------------
size_bytes=$(stat -c %s "$BIN")
echo
echo "irsa-doctor benchmark: $(uname -srm), $(nproc) CPU, binary $(awk -v b="$size_bytes" 'BEGIN { printf "%.1f MiB (%d bytes)", b / 1048576, b }') (stat)"
echo
{
  echo "scenario|exit|mean ± σ (ms)|median (ms)|min-max (ms)|peak RSS (MiB)|time measured by|RSS measured by"
  printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
echo
if [[ -n "$HYPERFINE" ]]; then echo "hyperfine JSON exports: .bench/*.json"; fi
