#!/usr/bin/env bash
# Benchmark of the built binary (npm run bench; not a test): wall time and peak RSS per scenario, and size,
# beside the AWS CLI against the same simulated EKS, then the targets computed from the figures.
#
# Each row is one call:   [RUNS=n WARMUP=n RSS_RUNS=n] measure "NAME" [VAR=value ...] -- COMMAND [ARGS...]
# The command runs under `env -i PATH=/usr/bin:/bin HOME=<tmp> VAR=value ...`: only the variables given, as in
# a pod. Timing: hyperfine -N (no shell) with warmup 3 and 20 runs, else a date +%s%N loop. Peak RSS: the
# median of 5 runs of /usr/bin/time -v, else python3's wait4 rusage. Slow rows set fewer runs in front of the
# call. The exit code of one run is shown too, so a row that measures an error path by mistake is visible.
#
# The simulated EKS (src/sim) runs in separate processes (scripts/sim-serve.ts, one per scenario) that stay up
# for the whole run; their env (every endpoint on 127.0.0.1) is what the rows against the sim get.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="$PWD/dist/irsa-doctor"
ARM64_BIN="$PWD/dist/irsa-doctor-linux-arm64"
QEMU=/usr/bin/qemu-aarch64-static
ARM64_SYSROOT=/usr/aarch64-linux-gnu
RUNS=20
WARMUP=3
RSS_RUNS=5
WORK="$PWD/.bench"
mkdir -p "$WORK"
TMP="$(mktemp -d)"
SIM_PIDS=()
cleanup() {
  local pid
  for pid in "${SIM_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SIM_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ! -x "$BIN" || ! -x "$ARM64_BIN" ]]; then
  echo "dist/irsa-doctor or dist/irsa-doctor-linux-arm64 is missing: building them" >&2
  bash scripts/build.sh native linux-arm64 >&2
fi

# BENCH_FALLBACK=1 uses the fallbacks even when the tools are installed (to check them).
HYPERFINE="$(command -v hyperfine || true)"
GNU_TIME=""
[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 && GNU_TIME=/usr/bin/time
if [[ "${BENCH_FALLBACK:-}" == 1 ]]; then
  HYPERFINE=""
  GNU_TIME=""
fi
# Debian's awscli v2 (the `aws` on PATH may be another one, e.g. a pyenv v1 shim).
AWS_CLI=/usr/bin/aws
[[ -x "$AWS_CLI" ]] || AWS_CLI=""
BUN="$PWD/node_modules/.bin/bun"
[[ -x "$BUN" ]] || BUN=""

NOTES=()
note() {
  NOTES+=("$1")
  echo "note: $1" >&2
}
if [[ -z "$HYPERFINE" ]]; then
  note "hyperfine is missing (apt-get install hyperfine); timing with a date +%s%N loop instead"
fi
if [[ -z "$GNU_TIME" ]]; then
  note "GNU time is missing (apt-get install time); peak RSS from python3 wait4 instead"
fi
if [[ -z "$AWS_CLI" ]]; then
  note "/usr/bin/aws is missing (apt-get install awscli): the AWS CLI rows and the target against it are skipped"
fi
if [[ -z "$BUN" ]]; then
  note "node_modules/.bin/bun is missing (npm ci): the rows against the simulated EKS are skipped"
fi

ROWS=()
# Per row name, for the targets: median and max wall time (ms), median peak RSS (KiB).
declare -A MEDIAN_MS MAX_MS RSS_KB

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

  local mean sd median_ms range max_ms time_tool
  if [[ -n "$HYPERFINE" ]]; then
    local json="$WORK/$slug.json"
    # -i: error paths (exit 1) are measured too; the exit code column tells them apart.
    env -i "${envs[@]}" "$HYPERFINE" -N -i --warmup "$WARMUP" --runs "$RUNS" --export-json "$json" \
      --command-name="$name" -- "$(printf '%q ' "${cmd[@]}")" >/dev/null 2>&1
    read -r mean sd median_ms range max_ms < <(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results[0];
      const ms = (s) => (s * 1000).toFixed(1);
      console.log(ms(r.mean), ms(r.stddev ?? 0), ms(r.median), `${ms(r.min)}-${ms(r.max)}`, ms(r.max));
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
    max_ms=${range#*-}
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
    RSS_KB["$name"]=$(printf '%s\n' "${rss_kb[@]}" | median)
    rss=$(awk -v k="${RSS_KB["$name"]}" 'BEGIN { printf "%.1f", k / 1024 }')
    rss_tool=$([[ -n "$GNU_TIME" ]] && echo "/usr/bin/time -v, median of $RSS_RUNS" || echo "python3 wait4, median of $RSS_RUNS")
  else
    rss_tool="none (apt-get install time)"
  fi

  MEDIAN_MS["$name"]=$median_ms
  MAX_MS["$name"]=$max_ms
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

# start_sim ARRAY SCENARIO: serves SCENARIO of the simulated EKS in the background (bun scripts/sim-serve.ts,
# killed on exit), waits for the env line it prints and puts that env into ARRAY, one VAR=value per element.
# The pod's files are under $TMP/sim-ARRAY, HOME included.
start_sim() {
  local -n sim_env="$1"
  local scenario="$2" dir="$TMP/sim-$1"
  local out="$dir.env.json"
  # bun itself (not npx, which would not pass SIGTERM on), so the pid is the sim's. $3: --kube, or nothing.
  "$BUN" scripts/sim-serve.ts "$scenario" "$dir" ${3:+"$3"} >"$out" 2>"$dir.log" &
  local pid=$!
  SIM_PIDS+=("$pid")
  local i
  for ((i = 0; i < 300; i++)); do
    if [[ -s "$out" && "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" == '\n' ]]; then
      mapfile -t sim_env < <(node -e '
        const env = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
      ' "$out")
      echo "sim: $scenario serving (pid $pid)" >&2
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "sim: $scenario did not start:" >&2
  cat "$dir.log" >&2
  exit 1
}

# the value of VAR in an env array: env_get ARRAY VAR
env_get() {
  local -n arr="$1"
  local kv
  for kv in "${arr[@]}"; do [[ "$kv" == "$2="* ]] && echo "${kv#*=}" && return 0; done
  return 1
}

SIM_IRSA=()
SIM_POD_IDENTITY=()
SIM_BLACKHOLE=()
SIM_IRSA_KUBE=()
SIM_LAUNCH=()
if [[ -n "$BUN" ]]; then
  start_sim SIM_IRSA healthy-irsa
  start_sim SIM_POD_IDENTITY healthy-pod-identity
  start_sim SIM_BLACKHOLE all-blackhole
  # The same healthy IRSA pod with its Kubernetes API (pod, ServiceAccount, webhook): every check runs.
  start_sim SIM_IRSA_KUBE healthy-irsa --kube
  # The launchers' simulated cluster (HTTPS API, webhook, Job controller; its kubelet runs dist/irsa-doctor as the
  # containers, children of the sim, so their memory is not the launcher's).
  start_sim SIM_LAUNCH healthy-irsa --launch
fi

# ---- rows: add one line per scenario ------------------------------------------------------------------------
loadavg() { cut -d' ' -f1 /proc/loadavg; }
LOAD_START=$(loadavg)
measure "--version" -- "$BIN" --version
measure "offline diagnosis, healthy IRSA env" "${HEALTHY_IRSA[@]}" -- "$BIN" --offline --output text
measure "offline diagnosis, no AWS env" -- "$BIN" --offline --output text
# The Ink path's extra cost (Ink + yoga load only for the TUI); on a pipe Ink draws the last frame only.
# 10 runs: ~0.5 s of CPU each.
RUNS=10 measure "offline diagnosis, healthy IRSA env, --output tui" "${HEALTHY_IRSA[@]}" -- "$BIN" --offline --output tui
# The demo starts the whole sim (issuer, STS, IMDS, agent) inside the binary and diagnoses it: one process.
measure "demo healthy-irsa (in-process sim), --output json" -- "$BIN" demo healthy-irsa --output json

# Full healthy diagnoses against the sim served by another process: every network check runs (issuer
# discovery + JWKS, STS AssumeRoleWithWebIdentity, the caller identity, the IMDS probe, the STS endpoints).
HEALTHY_ROWS=()
if [[ -n "$BUN" ]]; then
  HEALTHY_ROWS=(
    "healthy-irsa (sim), --no-kube --output json"
    "healthy-irsa (sim), --no-kube --output text"
    "healthy-pod-identity (sim), --no-kube --output json"
    "healthy-pod-identity (sim), --no-kube --output text"
  )
  measure "${HEALTHY_ROWS[0]}" "${SIM_IRSA[@]}" -- "$BIN" --no-kube --output json
  measure "${HEALTHY_ROWS[1]}" "${SIM_IRSA[@]}" -- "$BIN" --no-kube --output text
  measure "${HEALTHY_ROWS[2]}" "${SIM_POD_IDENTITY[@]}" -- "$BIN" --no-kube --output json
  measure "${HEALTHY_ROWS[3]}" "${SIM_POD_IDENTITY[@]}" -- "$BIN" --no-kube --output text
  # What a user at `kubectl exec -it` gets: the Ink TUI on a pseudo-terminal, every check live (script(1)
  # provides the terminal; its own few MiB never exceed the binary's, so the peak RSS is the binary's).
  if [[ -x /usr/bin/script ]]; then
    # Not in HEALTHY_ROWS: the speed target compares the text and JSON runs; its peak RSS counts like any row's.
    RUNS=10 measure "healthy-irsa (sim), --no-kube, Ink TUI on a pty" "${SIM_IRSA[@]}" TERM=xterm-256color -- \
      /usr/bin/script -qec "$BIN --no-kube" /dev/null
  else
    echo "note: script(1) is missing (util-linux): the TUI-on-a-pty row is skipped" >&2
  fi
  # With the Kubernetes checks too: @kubernetes/client-node is loaded (lazily, only for them).
  measure "healthy-irsa (sim) + Kubernetes API, --output json" "${SIM_IRSA_KUBE[@]}" -- "$BIN" --output json
  if [[ -x /usr/bin/script ]]; then
    RUNS=10 measure "healthy-irsa (sim) + Kubernetes API, Ink TUI on a pty" "${SIM_IRSA_KUBE[@]}" \
      TERM=xterm-256color -- /usr/bin/script -qec "$BIN" /dev/null
  fi
fi

# The launchers, run where kubectl runs (`irsa-doctor pod`, `irsa-doctor job`, client-node with watches and logs),
# against that cluster: from the command to the verdict, the doctor's run in the cluster included. 1 warmup, 5
# runs, RSS from 3: each run is ~0.5 s. Every `pod` run leaves one ephemeral container in the pod, as on a cluster.
if [[ -n "$BUN" ]]; then
  LAUNCH_ENV=("KUBECONFIG=$(env_get SIM_LAUNCH KUBECONFIG)")
  LAUNCH_POD=(pod "$(env_get SIM_LAUNCH POD)" -n "$(env_get SIM_LAUNCH NAMESPACE)")
  LAUNCH_JOB=(job --service-account "$(env_get SIM_LAUNCH SERVICE_ACCOUNT)" -n "$(env_get SIM_LAUNCH NAMESPACE)")
  WARMUP=1 RUNS=5 RSS_RUNS=3 measure "irsa-doctor pod (simulated cluster), --output json" "${LAUNCH_ENV[@]}" -- \
    "$BIN" "${LAUNCH_POD[@]}" --output json
  WARMUP=1 RUNS=5 RSS_RUNS=3 measure "irsa-doctor job (simulated cluster), --output json" "${LAUNCH_ENV[@]}" -- \
    "$BIN" "${LAUNCH_JOB[@]}" --output json
  if [[ -x /usr/bin/script ]]; then
    WARMUP=1 RUNS=5 RSS_RUNS=3 measure "irsa-doctor pod (simulated cluster), Ink TUI on a pty" "${LAUNCH_ENV[@]}" \
      TERM=xterm-256color -- /usr/bin/script -qec "$(printf '%q ' "$BIN" "${LAUNCH_POD[@]}")" /dev/null
    WARMUP=1 RUNS=5 RSS_RUNS=3 measure "irsa-doctor job (simulated cluster), Ink TUI on a pty" "${LAUNCH_ENV[@]}" \
      TERM=xterm-256color -- /usr/bin/script -qec "$(printf '%q ' "$BIN" "${LAUNCH_JOB[@]}")" /dev/null
  fi
fi

# The AWS CLI against the same sim's STS (--endpoint-url: awscli 2.9 ignores AWS_ENDPOINT_URL_STS). Its
# web-identity provider would call the real regional STS, so the IRSA call is timed on its own
# (assume-role-with-web-identity, unsigned) and get-caller-identity runs with the keys the sim returned.
# 1 warmup, 5 runs, RSS from 3: each call is ~1 s of Python start-up.
AWS_ASSUME_ROW="aws sts assume-role-with-web-identity (sim)"
AWS_CALLER_ROW="aws sts get-caller-identity (sim, keys from the sim)"
if [[ -n "$AWS_CLI" && -n "$BUN" ]]; then
  STS_URL=$(env_get SIM_IRSA AWS_ENDPOINT_URL_STS)
  ASSUME=(
    "$AWS_CLI" sts assume-role-with-web-identity --endpoint-url "$STS_URL" --region us-west-2
    --role-arn "$(env_get SIM_IRSA AWS_ROLE_ARN)" --role-session-name bench
    --web-identity-token "file://$(env_get SIM_IRSA AWS_WEB_IDENTITY_TOKEN_FILE)"
  )
  read -r KEY_ID SECRET_KEY SESSION_TOKEN < <(env -i PATH=/usr/bin:/bin HOME="$TMP" "${ASSUME[@]}" \
    --output text --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]')
  WARMUP=1 RUNS=5 RSS_RUNS=3 measure "$AWS_ASSUME_ROW" -- "${ASSUME[@]}" --output json
  WARMUP=1 RUNS=5 RSS_RUNS=3 measure "$AWS_CALLER_ROW" \
    "AWS_ACCESS_KEY_ID=$KEY_ID" "AWS_SECRET_ACCESS_KEY=$SECRET_KEY" "AWS_SESSION_TOKEN=$SESSION_TOKEN" -- \
    "$AWS_CLI" sts get-caller-identity --endpoint-url "$STS_URL" --region us-west-2 --output json
fi

# The worst case: issuer, STS, IMDS and agent all accept connections and never answer. 3 runs each, no
# warmup, RSS from 1 run: each run lasts seconds. The deadline is --timeout (+1 s to print and exit).
BLACKHOLE_ROWS=()
declare -A DEADLINE_MS
if [[ -n "$BUN" ]]; then
  BLACKHOLE_ROWS=("all-blackhole (sim), --timeout 10000 (default)" "all-blackhole (sim), --timeout 3000")
  DEADLINE_MS["${BLACKHOLE_ROWS[0]}"]=10000
  DEADLINE_MS["${BLACKHOLE_ROWS[1]}"]=3000
  RUNS=3 WARMUP=0 RSS_RUNS=1 measure "${BLACKHOLE_ROWS[0]}" "${SIM_BLACKHOLE[@]}" -- "$BIN" --no-kube --output json
  RUNS=3 WARMUP=0 RSS_RUNS=1 measure "${BLACKHOLE_ROWS[1]}" "${SIM_BLACKHOLE[@]}" -- \
    "$BIN" --no-kube --output json --timeout 3000
fi

# The arm64 build under Debian's qemu-user-static (BENCH_ARM64=0 skips it). Emulated: every figure is qemu's,
# translating each instruction and the JIT's output, and its RSS includes qemu's own translation cache; they
# say the arm64 binary runs these modes, not how fast or how big it is on an arm64 machine. Not in the targets.
# 1 warmup, 3 runs, RSS from 3: each run is seconds.

if [[ "${BENCH_ARM64:-1}" == 1 && -x "$QEMU" && -d "$ARM64_SYSROOT/lib" && -x "$ARM64_BIN" ]]; then
  # The arm64 libc over /lib in a private mount namespace, not qemu -L, which would also redirect / itself to the
  # sysroot (test/helpers/binary.ts says why; as a mapped root in a user namespace when not root).
  ASROOT=()
  [[ "$(id -u)" -eq 0 ]] || ASROOT=(--map-root-user)
  ARM64=(/usr/bin/unshare "${ASROOT[@]}" --mount --propagation private -- /bin/sh -c 'mount --bind "$0" /lib && exec "$@"'
    "$ARM64_SYSROOT/lib" "$QEMU" "$ARM64_BIN")
  WARMUP=1 RUNS=3 RSS_RUNS=3 measure "arm64 (qemu, emulated): --version" -- "${ARM64[@]}" --version
  WARMUP=1 RUNS=3 RSS_RUNS=3 measure "arm64 (qemu, emulated): offline diagnosis, healthy IRSA env" \
    "${HEALTHY_IRSA[@]}" -- "${ARM64[@]}" --offline --output text
  if [[ -n "$BUN" ]]; then
    WARMUP=1 RUNS=3 RSS_RUNS=3 measure "arm64 (qemu, emulated): healthy-irsa (sim) + Kubernetes API, --output json" \
      "${SIM_IRSA_KUBE[@]}" -- "${ARM64[@]}" --output json
    if [[ -x /usr/bin/script ]]; then
      WARMUP=1 RUNS=3 RSS_RUNS=3 measure "arm64 (qemu, emulated): healthy-irsa (sim) + Kubernetes API, Ink TUI on a pty" \
        "${SIM_IRSA_KUBE[@]}" TERM=xterm-256color -- /usr/bin/script -qec "$(printf '%q ' "${ARM64[@]}")" /dev/null
    fi
  fi
elif [[ "${BENCH_ARM64:-1}" == 1 ]]; then
  note "$QEMU or $ARM64_SYSROOT is missing (apt-get install qemu-user-static libc6-arm64-cross): the arm64 rows are skipped"
fi

# ---- report -------------------------------------------------------------------------------------------------
size_bytes=$(stat -c %s "$BIN")
echo
echo "irsa-doctor benchmark: $(uname -srm), $(nproc) CPU, binary $(awk -v b="$size_bytes" 'BEGIN { printf "%.1f MiB (%d bytes)", b / 1048576, b }') (stat)"
if [[ -n "${ARM64:-}" ]]; then
  arm64_bytes=$(stat -c %s "$ARM64_BIN")
  echo "arm64 binary $(awk -v b="$arm64_bytes" 'BEGIN { printf "%.1f MiB (%d bytes)", b / 1048576, b }'), run by $("$QEMU" --version | head -1)"
fi
# Other work on the machine shows in every figure: the 1-minute load average when the rows began and ended.
echo "load average (1 min): $LOAD_START at the first row, $(loadavg) at the last"
echo
{
  echo "scenario|exit|mean ± σ (ms)|median (ms)|min-max (ms)|peak RSS (MiB)|time measured by|RSS measured by"
  printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
echo

# ---- targets: computed from the rows above ------------------------------------------------------------------
verdict() { if [[ "$1" == 1 ]]; then echo PASS; else echo MISS; fi; }
echo "targets:"
# 1. The slowest full healthy diagnosis against half of one AWS CLI get-caller-identity. Medians: a burst of
# load on a shared machine moves a mean by hundreds of ms.
if [[ ${#HEALTHY_ROWS[@]} -gt 0 && -n "${MEDIAN_MS[$AWS_CALLER_ROW]:-}" ]]; then
  slowest="${HEALTHY_ROWS[0]}"
  for row in "${HEALTHY_ROWS[@]}"; do
    if awk -v a="${MEDIAN_MS[$row]}" -v b="${MEDIAN_MS[$slowest]}" 'BEGIN { exit !(a > b) }'; then slowest="$row"; fi
  done
  ok=$(awk -v a="${MEDIAN_MS[$slowest]}" -v b="${MEDIAN_MS[$AWS_CALLER_ROW]}" 'BEGIN { print (a < b / 2) ? 1 : 0 }')
  echo "  $(verdict "$ok")  full healthy diagnosis < 1/2 AWS CLI get-caller-identity (medians):" \
    "${MEDIAN_MS[$slowest]} ms ($slowest) vs ${MEDIAN_MS[$AWS_CALLER_ROW]} / 2" \
    "= $(awk -v b="${MEDIAN_MS[$AWS_CALLER_ROW]}" 'BEGIN { printf "%.1f", b / 2 }') ms"
else
  echo "  n/a   full healthy diagnosis < 1/2 AWS CLI get-caller-identity: row skipped (see notes)"
fi
# 2. Every black-hole run (max of its runs) ends within its --timeout + 1 s.
if [[ ${#BLACKHOLE_ROWS[@]} -gt 0 ]]; then
  for row in "${BLACKHOLE_ROWS[@]}"; do
    limit=$((DEADLINE_MS[$row] + 1000))
    ok=$(awk -v a="${MAX_MS[$row]}" -v b="$limit" 'BEGIN { print (a <= b) ? 1 : 0 }')
    echo "  $(verdict "$ok")  worst case within --timeout + 1 s: max ${MAX_MS[$row]} ms vs $limit ms ($row)"
  done
else
  echo "  n/a   worst case within --timeout + 1 s: rows skipped (see notes)"
fi
# 3. Peak RSS (median per row), the largest over the native irsa-doctor rows (the AWS CLI rows are the reference,
# the arm64 rows are qemu's).
max_kb=0
max_row=""
for row in "${!RSS_KB[@]}"; do
  [[ "$row" == aws\ * || "$row" == arm64\ * ]] && continue
  if awk -v a="${RSS_KB[$row]}" -v b="$max_kb" 'BEGIN { exit !(a > b) }'; then
    max_kb=${RSS_KB[$row]}
    max_row=$row
  fi
done
if [[ -n "$max_row" ]]; then
  ok=$(awk -v k="$max_kb" 'BEGIN { print (k * 1024 < 100e6) ? 1 : 0 }')
  echo "  $(verdict "$ok")  peak RSS < 100 MB (10^6 bytes): max $(awk -v k="$max_kb" 'BEGIN { printf "%.1f MB (%.1f MiB)", k * 1024 / 1e6, k / 1024 }') ($max_row)"
else
  echo "  n/a   peak RSS < 100 MB: no RSS measured (see notes)"
fi

if [[ ${#NOTES[@]} -gt 0 ]]; then
  echo
  printf 'note: %s\n' "${NOTES[@]}"
fi
echo
if [[ -n "$HYPERFINE" ]]; then echo "hyperfine JSON exports: .bench/*.json"; fi
