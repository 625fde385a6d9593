import path from 'node:path';
import type { Cluster, User } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { shellQuote } from '../checks/shell';
import type { FileView } from '../context/files';
import { errnoCode } from '../context/files';

/** A kubeconfig is a few KiB; certificate files a few KiB each. */
export const MAX_KUBECONFIG_BYTES = 1024 * 1024;
const MAX_REFERENCED_BYTES = 1024 * 1024;
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** A program the kubeconfig's user would run to get credentials; reported, never run. */
export interface KubeconfigCommand {
  readonly user: string;
  readonly kind: 'exec' | 'auth-provider';
  /** What would run, every word shell-quoted. */
  readonly wouldRun: string;
}

/** The current context of a kubeconfig, made safe for client-node: only inline data, nothing it could run or read. */
export interface SafeKubeconfig {
  readonly contextName: string;
  readonly cluster: Cluster;
  readonly user: User;
  readonly namespace: string | undefined;
  readonly notRun: readonly KubeconfigCommand[];
  /** The user's only way to authenticate is a program: without it, the API server sees an anonymous client. */
  readonly onlyCommands: boolean;
}

export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

type Yaml = Record<string, unknown>;
const isObject = (v: unknown): v is Yaml => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Parses a kubeconfig's text and builds the current context the way kubectl would use it, without handing the
 * file to client-node: its loadFromString reads `token-file` itself (blocking: a FIFO there stops the event
 * loop), its authenticators run `exec` plugins and azure/gcp `cmd-path` through a shell, and oidc refreshes
 * tokens against a URL the file names. Here every referenced file (certificate-authority, client-certificate,
 * client-key, token-file, auth-provider tokenFile) is read through the file view (inside the root, regular files
 * only, capped) and inlined as data; exec and auth-provider commands are dropped and returned as `notRun`; only
 * the current context's cluster and user are read at all.
 */
export async function loadKubeconfig(source: string, file: string, files: FileView): Promise<SafeKubeconfig> {
  let document: unknown;
  try {
    document = load(source);
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    throw new KubeconfigError(`not YAML: ${first.slice(0, 200)}`);
  }
  if (!isObject(document)) throw new KubeconfigError('not a kubeconfig (the document is not a mapping)');
  const named = (list: unknown, name: string | undefined): Yaml | undefined =>
    Array.isArray(list)
      ? (list.find((e) => isObject(e) && (name === undefined || e.name === name)) as Yaml)
      : undefined;

  const current = text(document['current-context']);
  // No current-context: the first context, as before (kubectl would refuse; a kubeconfig written for one use has one).
  const contextEntry = named(document.contexts, current);
  const context = isObject(contextEntry?.context) ? contextEntry.context : undefined;
  if (!contextEntry || !context) {
    throw new KubeconfigError(
      current ? `current-context "${current.slice(0, 100)}" is not among its contexts` : 'it has no context',
    );
  }
  const contextName = text(contextEntry.name) ?? 'current';
  const clusterName = text(context.cluster);
  const clusterEntry = clusterName ? named(document.clusters, clusterName) : undefined;
  const cluster = isObject(clusterEntry?.cluster) ? clusterEntry.cluster : undefined;
  if (!clusterName || !cluster) {
    throw new KubeconfigError(`context "${contextName.slice(0, 100)}" names no cluster that the file defines`);
  }
  const server = text(cluster.server);
  if (!server) throw new KubeconfigError(`cluster "${clusterName.slice(0, 100)}" has no server`);
  const userName = text(context.user);
  const userEntry = userName ? named(document.users, userName) : undefined;
  const user = isObject(userEntry?.user) ? userEntry.user : {};

  // Relative paths are relative to the kubeconfig's directory, as kubectl resolves them.
  const dir = path.posix.dirname(file);
  const referenced = async (field: string, value: unknown, maxBytes: number): Promise<Buffer | undefined> => {
    const where = text(value);
    if (!where) return undefined;
    const appPath = where.startsWith('/') ? where : path.posix.join(dir, where);
    try {
      const { bytes, truncated } = await files.readHead(appPath, maxBytes);
      if (truncated) throw new KubeconfigError(`${field} ${where.slice(0, 200)} is larger than ${maxBytes} bytes`);
      return bytes;
    } catch (error) {
      if (error instanceof KubeconfigError) throw error;
      throw new KubeconfigError(`${field} ${where.slice(0, 200)} cannot be read (${describeReadError(error)})`);
    }
  };
  const base64 = (b: Buffer | undefined) => (b ? b.toString('base64') : undefined);

  const caData =
    text(cluster['certificate-authority-data']) ??
    base64(await referenced('certificate-authority', cluster['certificate-authority'], MAX_REFERENCED_BYTES));
  const notRun: KubeconfigCommand[] = [];
  let token = text(user.token);
  if (!token) {
    const fromFile = await referenced('token-file', user['token-file'], MAX_TOKEN_FILE_BYTES);
    token = fromFile ? fromFile.toString('utf8').trim() || undefined : undefined;
  }
  const exec = user.exec;
  if (isObject(exec) && text(exec.command)) {
    const args = Array.isArray(exec.args) ? exec.args.filter((a): a is string => typeof a === 'string') : [];
    notRun.push({
      user: userName ?? '',
      kind: 'exec',
      wouldRun: [exec.command as string, ...args]
        .map((w) => shellQuote(w.slice(0, 500)))
        .join(' ')
        .slice(0, 2000),
    });
  }
  const provider = user['auth-provider'];
  if (isObject(provider)) {
    const config = isObject(provider.config) ? provider.config : {};
    const command = text(config['cmd-path']);
    if (command) {
      // client-node (azure_auth.js, gcp_auth.js) runs `"cmd-path" cmd-args` with execSync: through /bin/sh.
      const args = text(config['cmd-args']);
      const line = `"${command}"${args ? ` ${args}` : ''}`;
      notRun.push({
        user: userName ?? '',
        kind: 'auth-provider',
        wouldRun: `sh -c ${shellQuote(line.slice(0, 1000))}`,
      });
    }
    if (!token) {
      const fromFile = await referenced('auth-provider tokenFile', config.tokenFile, MAX_TOKEN_FILE_BYTES);
      // A token the provider already cached is used as it is, never refreshed (that would run cmd-path, or
      // for oidc fetch a token from the idp-issuer-url the file names).
      token =
        (fromFile ? fromFile.toString('utf8').trim() : undefined) ||
        text(config['access-token']) ||
        text(config['id-token']);
    }
  }
  const certData =
    text(user['client-certificate-data']) ??
    base64(await referenced('client-certificate', user['client-certificate'], MAX_REFERENCED_BYTES));
  const keyData =
    text(user['client-key-data']) ?? base64(await referenced('client-key', user['client-key'], MAX_REFERENCED_BYTES));
  const username = text(user.username);
  const password = text(user.password);
  const safeUser: User = {
    name: userName ?? 'anonymous',
    ...(token ? { token } : {}),
    ...(certData ? { certData } : {}),
    ...(keyData ? { keyData } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(text(user.as) ? { impersonateUser: text(user.as) } : {}),
  };
  return {
    contextName,
    cluster: {
      name: clusterName,
      server: server.replace(/\/$/, ''),
      skipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
      ...(caData ? { caData } : {}),
      ...(text(cluster['tls-server-name']) ? { tlsServerName: text(cluster['tls-server-name']) } : {}),
    },
    user: safeUser,
    namespace: text(context.namespace),
    notRun,
    onlyCommands: notRun.length > 0 && !token && !(certData && keyData) && !username,
  };
}

export function describeReadError(error: unknown): string {
  const code = errnoCode(error);
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'a directory';
    case 'NOT_A_REGULAR_FILE':
      return 'not a regular file (a FIFO, device or socket): not opened';
    case 'ELOOP':
      return 'a loop of symbolic links';
    case undefined:
      return error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200);
    default:
      return code;
  }
}
