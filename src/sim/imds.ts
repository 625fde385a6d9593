import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { CredentialBook, IssuedCredentials } from './identities';
import { isoSeconds, uniqueIdBody } from './identities';
import type { LoopbackServer } from './loopback';
import { blackHole, listenLoopback, refusedUrl } from './loopback';

/*
 * The node's instance metadata service as a pod sees it (docs/mechanics.md 6).
 * - `reachable`: IMDSv2 works from the pod (hop limit 2 or more): the pod can read the node role's keys.
 * - `hop-limit-1`: the v2 token PUT is accepted and never answered, which is what a pod one hop away sees
 *   when the response is dropped (no RST), and v1 GETs get 401 (HttpTokens=required), the AL2023 default.
 * - `disabled`: nothing listens (connection refused).
 * - `blackhole`: every request is accepted and never answered.
 */
export type ImdsMode = 'reachable' | 'hop-limit-1' | 'disabled' | 'blackhole';

export interface ImdsOptions {
  readonly book: CredentialBook;
  readonly mode: ImdsMode;
  readonly account: string;
  readonly region: string;
  readonly partition?: string;
  readonly roleName: string;
  readonly instanceId: string;
  /** `required` (IMDSv2 only, the default) answers token-less GETs 401; `optional` also serves IMDSv1. */
  readonly tokens?: 'required' | 'optional';
}

export interface SimulatedImds {
  /** http://127.0.0.1:PORT (no trailing slash; the env variable adds one). */
  readonly url: string;
  /** The node role's ARN, as the tool should report it. */
  readonly nodeRoleArn: string;
  close(): Promise<void>;
}

const MAX_TTL = 21_600;

export async function startImds(options: ImdsOptions): Promise<SimulatedImds> {
  const partition = options.partition ?? 'aws';
  const nodeRoleArn = `arn:${partition}:iam::${options.account}:role/${options.roleName}`;
  if (options.mode === 'disabled') {
    return { url: await refusedUrl(), nodeRoleArn, close: async () => undefined };
  }
  const tokens = new Map<string, number>(); // token -> expiry (ms)
  const startedAt = Date.now();
  let credentials: IssuedCredentials | undefined;
  const nodeCredentials = () =>
    (credentials ??= options.book.mintTemporary(
      {
        // The session name of node-role credentials is the instance id (docs/mechanics.md 6).
        arn: `arn:${partition}:sts::${options.account}:assumed-role/${options.roleName}/${options.instanceId}`,
        userId: `AROA${uniqueIdBody()}:${options.instanceId}`,
        account: options.account,
      },
      6 * 3600,
    ));

  const server: LoopbackServer = await listenLoopback((req, res) => {
    if (options.mode === 'blackhole') return blackHole(req);
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (req.method === 'PUT' && path === '/latest/api/token') {
      if (options.mode === 'hop-limit-1') return blackHole(req);
      // IMDS refuses token requests that went through a proxy.
      if (req.headers['x-forwarded-for'] !== undefined) return send(res, 403, '');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) return send(res, 400, '');
      const token = randomBytes(42).toString('base64');
      options.book.recordSecret(token);
      tokens.set(token, Date.now() + ttl * 1000);
      return send(res, 200, token, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, '');
    const presented = req.headers['x-aws-ec2-metadata-token'];
    if (presented !== undefined) {
      const expiry = tokens.get(String(presented));
      if (expiry === undefined || expiry < Date.now()) return send(res, 401, '');
    } else if ((options.tokens ?? 'required') === 'required') {
      return send(res, 401, '');
    }
    const body = metadata(path);
    if (body === undefined) return send(res, 404, NOT_FOUND, { 'content-type': 'text/html' });
    return send(res, 200, body);
  });

  function metadata(path: string): string | undefined {
    const updated = isoSeconds(startedAt);
    switch (path) {
      case '/latest/meta-data/iam/security-credentials/':
      case '/latest/meta-data/iam/security-credentials':
        return options.roleName;
      case `/latest/meta-data/iam/security-credentials/${options.roleName}`: {
        const c = nodeCredentials();
        return JSON.stringify(
          {
            Code: 'Success',
            LastUpdated: updated,
            Type: 'AWS-HMAC',
            AccessKeyId: c.accessKeyId,
            SecretAccessKey: c.secretAccessKey,
            Token: c.sessionToken,
            Expiration: c.expiration,
          },
          null,
          2,
        );
      }
      case '/latest/meta-data/iam/info':
        // The instance-profile ARN, whose name may differ from the role's (docs/mechanics.md 6).
        return JSON.stringify(
          {
            Code: 'Success',
            LastUpdated: updated,
            InstanceProfileArn: `arn:${partition}:iam::${options.account}:instance-profile/eks-${options.instanceId.slice(2, 10)}`,
            InstanceProfileId: `AIPA${uniqueIdBody()}`,
          },
          null,
          2,
        );
      case '/latest/dynamic/instance-identity/document':
        return JSON.stringify(
          {
            accountId: options.account,
            architecture: 'x86_64',
            availabilityZone: `${options.region}a`,
            imageId: 'ami-0abcdef1234567890',
            instanceId: options.instanceId,
            instanceType: 'm6i.large',
            pendingTime: updated,
            privateIp: '192.168.12.34',
            region: options.region,
            version: '2017-09-30',
          },
          null,
          2,
        );
      case '/latest/meta-data/placement/region':
        return options.region;
      case '/latest/meta-data/services/partition':
        return partition;
      case '/latest/meta-data/instance-id':
        return options.instanceId;
      default:
        return undefined;
    }
  }

  return { url: server.url, nodeRoleArn, close: () => server.close() };
}

const NOT_FOUND = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
`;

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/plain',
    'content-length': Buffer.byteLength(body),
    server: 'EC2ws',
    ...headers,
  });
  res.end(body);
}
