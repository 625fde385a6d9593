#!/usr/bin/env bash
# Benchmark of `explain -` on a large log (not a test): wall time and peak RSS of the built binary reading a
# generated log of SIZE_MB megabytes (default 100) on stdin, once as mostly noise with scattered credential
# errors (a typical `kubectl logs` of a failing app) and once as error lines only (the worst case: every line
# passes the prefilter and runs the rules). Prints one row per run.
#   bash scripts/bench-explain.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/dist/irsa-doctor"
SIZE_MB="${1:-100}"
[ -x "$BIN" ] || { echo "build first: npm run build" >&2; exit 2; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Lines taken from the corpus's shapes; the noise is what apps log between errors.
python3 - "$TMP" "$SIZE_MB" <<'PY'
import sys, random
tmp, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
random.seed(7)
errors = [
    '{"level":"error","ts":1657324768.868449,"msg":"Reconciler error","error":"WebIdentityErr: failed to retrieve credentials\\ncaused by: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity\\n\\tstatus code: 403, request id: 5c3f9ce5-ba7d-495e-98b1-ffcd5cf85133"}',
    'time="2020-07-24T06:41:05Z" level=error msg="AccessDenied: User: arn:aws:sts::111122223333:assumed-role/eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1X2Y3Z/i-0a1b2c3d4e5f67890 is not authorized to perform: route53:ListHostedZones\\n\\tstatus code: 403"',
    'botocore.exceptions.ClientError: An error occurred (ExpiredToken) when calling the PutObject operation: The provided token has expired.',
    '2024/08/28 05:28:15 Ignoring, HTTP credential provider invalid endpoint host, "169.254.170.23", only loopback hosts are allowed. <nil>',
    'An error occurred (SignatureDoesNotMatch) when calling the GetCallerIdentity operation: Signature expired: 20220127T001427Z is now earlier than 20220127T014428Z (20220127T015928Z - 15 min.)',
]
noise = [
    '2024-05-01T10:00:00.000Z INFO request handled method=GET path=/api/v1/items/{id} status=200 duration_ms=3 user=42',
    '{"level":"info","ts":1714557600.1,"logger":"worker","msg":"processed batch","size":128,"queue":"orders"}',
    '10.0.12.7 - - [01/May/2024:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
    '2024-05-01 10:00:00,123 DEBUG [pool-3-thread-7] c.e.app.Cache - hit ratio 0.97 entries=10432',
]
for name, pick in (('noise', lambda i: errors[(i // 500) % len(errors)] if i % 500 == 0 else random.choice(noise)),
                   ('errors', lambda i: errors[i % len(errors)])):
    with open(f'{tmp}/{name}.log', 'w') as f:
        written, i = 0, 0
        while written < size:
            line = pick(i) + '\n'
            f.write(line)
            written += len(line)
            i += 1
PY

printf '%-8s %8s %10s %12s %s\n' log size_mb wall_s peak_rss_mb matches
for name in noise errors; do
  file="$TMP/$name.log"
  mb=$(( $(stat -c %s "$file") / 1024 / 1024 ))
  /usr/bin/time -f '%e %M' -o "$TMP/time" "$BIN" explain - --json <"$file" >"$TMP/out.json"
  read -r wall rss_kb <"$TMP/time"
  matches=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join("%s x%d" % (m["code"], m["lines"]) for m in d["matches"]))' "$TMP/out.json")
  printf '%-8s %8s %10s %12s %s\n' "$name" "$mb" "$wall" "$((rss_kb / 1024))" "$matches"
done
