import type { Env } from './context';

/**
 * Where the libraries would read shared AWS config from: a path under /dev/null, which no open can succeed on
 * (ENOTDIR, at once). The AWS SDK reads AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE whole, for defaults of
 * every client it builds (@smithy/core shared-ini-file-loader, loadSharedConfigFiles); a FIFO there would hang it
 * and /dev/zero would grow it to gigabytes. The doctor reads those files itself, through context/files.ts.
 */
export const NO_SHARED_CONFIG_FILE = '/dev/null/irsa-doctor-reads-no-shared-config';

/**
 * Variables of this process that would make a library act on its own behind the Context: the AWS SDK (every
 * AWS_*: config and credentials files, profiles, endpoints, IMDS), client-node (KUBECONFIG), Node/Bun TLS
 * overrides, and proxies (the tool connects directly; env.proxy reports the app's proxies from the snapshot).
 */
function isSealed(name: string): boolean {
  return (
    name.startsWith('AWS_') ||
    name === 'KUBECONFIG' ||
    name === 'NODE_TLS_REJECT_UNAUTHORIZED' ||
    name === 'NODE_EXTRA_CA_CERTS' ||
    name === 'SSL_CERT_FILE' ||
    name === 'SSL_CERT_DIR' ||
    /^(https?|all|no)_proxy$/i.test(name)
  );
}

let launchEnv: Env | undefined;

/**
 * The environment this process started with, as the Context's snapshot: taken once by sealProcessEnv, or (in
 * tests and library use, where nothing was sealed) the current process.env.
 */
export function launchEnvironment(): Env {
  return launchEnv ?? { ...process.env };
}

/**
 * Called first thing by the executable: keeps the launch environment for the Context, then takes out of
 * process.env everything a library could act on by itself, so that no SDK client or Kubernetes client can read a
 * shared config file, a kubeconfig or an endpoint the Context did not hand it. TZ becomes UTC, so nothing later
 * loads a zone file named by the environment (the report's times are UTC anyway). The Bun runtime itself
 * reads TZ through glibc's tzset() while it creates its VM, before any of this code runs (docs/security.md,
 * "What the runtime reads before the doctor starts").
 */
export function sealProcessEnv(): void {
  if (launchEnv) return;
  launchEnv = Object.freeze({ ...process.env });
  for (const name of Object.keys(process.env)) {
    if (isSealed(name)) delete process.env[name];
  }
  process.env.AWS_CONFIG_FILE = NO_SHARED_CONFIG_FILE;
  process.env.AWS_SHARED_CREDENTIALS_FILE = NO_SHARED_CONFIG_FILE;
  // No SDK default chain may reach IMDS by itself; the doctor's own IMDS client takes its endpoint from the snapshot.
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.TZ = 'UTC';
}

/**
 * The launchers (`irsa-doctor pod`, `job`) run where kubectl runs and do what kubectl does: a kubeconfig's exec
 * credential plugin (`aws eks get-token`) runs with the user's environment (AWS_PROFILE, AWS_REGION, proxies, the
 * instance role on a jump host). They run no diagnosis themselves, so they put the launch environment back as it
 * was, undoing sealProcessEnv for their own process only.
 */
export function restoreLaunchEnvironment(): void {
  if (!launchEnv) return;
  for (const name of Object.keys(process.env)) {
    if (!(name in launchEnv)) delete process.env[name];
  }
  for (const [name, value] of Object.entries(launchEnv)) {
    if (value !== undefined) process.env[name] = value;
  }
}
