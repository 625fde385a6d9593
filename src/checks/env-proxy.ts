import { isIP } from 'node:net';
import { AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE } from '../aws/env-names';
import type { Env } from '../context/context';
import { readPodSelf } from '../context/pod-self';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { SdkFamily } from './outputs';
import { LINKS, podRemedy, remedy, setEnvCommands } from './remedies';

/**
 * How NO_PROXY is read. `go`: golang.org/x/net/http/httpproxy (also curl's rules, close enough here): `*`,
 * CIDR, IP, host[:port], "example.com" matches it and its subdomains, ".example.com" only subdomains.
 * `python`: urllib's proxy_bypass_environment, which botocore uses: no CIDR (botocore says so in
 * utils.should_bypass_proxies), leading dots ignored, suffix match on names and on IP strings, `*` only alone.
 */
export type NoProxyDialect = 'go' | 'python';

export interface ProxySettings {
  readonly http: { readonly name: string; readonly value: string } | undefined;
  readonly https: { readonly name: string; readonly value: string } | undefined;
  readonly noProxy: { readonly name: string; readonly value: string } | undefined;
}

function firstSet(env: Env, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value) return { name, value };
  }
  return undefined;
}

/**
 * The proxy variables as each family reads them. Go's httpproxy.FromEnvironment takes the UPPER-case name first;
 * Python's urllib (botocore) prefers the lower-case one when both exist.
 */
export function proxySettings(env: Env, dialect: NoProxyDialect): ProxySettings {
  const order = (upper: string) => (dialect === 'go' ? [upper, upper.toLowerCase()] : [upper.toLowerCase(), upper]);
  return {
    http: firstSet(env, order('HTTP_PROXY')),
    https: firstSet(env, order('HTTPS_PROXY')),
    noProxy: firstSet(env, order('NO_PROXY')),
  };
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function ipv6ToBigInt(ip: string): bigint {
  const [head = '', tail] = ip.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  return parts.reduce((acc, part) => (acc << 16n) + BigInt(Number.parseInt(part || '0', 16)), 0n);
}

/** Whether IP `host` lies in CIDR `cidr` (IPv4 or IPv6); false when either does not parse. */
export function inCidr(host: string, cidr: string): boolean {
  const [base = '', bitsText = ''] = cidr.split('/');
  const bits = Number(bitsText);
  const family = isIP(base);
  if (family === 0 || isIP(host) !== family || !/^\d+$/.test(bitsText)) return false;
  if (family === 4) {
    if (bits > 32) return false;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return (ipv4ToInt(host) & mask) >>> 0 === (ipv4ToInt(base) & mask) >>> 0;
  }
  if (bits > 128) return false;
  const shift = BigInt(128 - bits);
  return ipv6ToBigInt(host) >> shift === ipv6ToBigInt(base) >> shift;
}

/** True when NO_PROXY `value` makes `dialect` connect directly to host:port. */
export function noProxyCovers(value: string, host: string, port: string, dialect: NoProxyDialect): boolean {
  const target = stripBrackets(host.toLowerCase());
  const entries = value
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (dialect === 'python') {
    if (value.trim() === '*') return true;
    const hostPort = `${target}:${port}`;
    return entries.some((raw) => {
      const name = stripBrackets(raw.replace(/^\.+/, ''));
      return target === name || hostPort === name || target.endsWith(`.${name}`) || hostPort.endsWith(`.${name}`);
    });
  }
  return entries.some((entry) => {
    if (entry === '*') return true;
    if (entry.includes('/')) return inCidr(target, entry);
    let entryHost = entry;
    let entryPort = '';
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entryHost = bracketed[1] ?? '';
      entryPort = bracketed[2] ?? '';
    } else if (isIP(entry) === 0) {
      const colon = entry.lastIndexOf(':');
      if (colon > 0 && /^\d+$/.test(entry.slice(colon + 1))) {
        entryHost = entry.slice(0, colon);
        entryPort = entry.slice(colon + 1);
      }
    }
    if (entryPort !== '' && entryPort !== port) return false;
    if (isIP(entryHost) !== 0) return entryHost === target;
    if (entryHost.startsWith('*.')) entryHost = entryHost.slice(1);
    if (entryHost.startsWith('.')) return target.endsWith(entryHost);
    return target === entryHost || target.endsWith(`.${entryHost}`);
  });
}

/** A proxy URL as shown: user and password removed (they are credentials). */
export function redactProxy(value: string): string {
  try {
    const url = new URL(value);
    if (url.username || url.password) {
      url.username = '***';
      url.password = '';
    }
    return url.toString().replace(/\/$/, '');
  } catch {
    return value.replace(/\/\/[^@/]*@/, '//***@').slice(0, 200);
  }
}

interface Destination {
  readonly label: string;
  readonly url: URL;
  /** The families whose default HTTP client for this call reads the proxy variables. */
  readonly families: readonly SdkFamily[];
}

interface Intercept {
  readonly destination: Destination;
  readonly sdk: SdkFamily;
  readonly proxyVariable: string;
  readonly proxy: string;
}

const FAMILY_NAMES: Record<SdkFamily, string> = { 'js-v3': 'JS SDK v3', boto3: 'boto3', 'go-v2': 'Go SDK v2' };

function portOf(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

function isLoopback(host: string): boolean {
  const h = stripBrackets(host);
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/**
 * env.proxy: would a proxy variable send the Pod Identity agent, IMDS or STS call through a proxy? Go's
 * default transport proxies everything but loopback; botocore proxies STS and IMDS (its IMDS fetcher reads
 * the env proxies, its container fetcher does not); the JS SDK v3's Node handler ignores proxy variables
 * unless the app passes its own proxy agent (docs/mechanics.md 4.3; docs/failure-modes.md row 6, awsdocs PR#878).
 */
export const envProxy: Check<'env.proxy'> = {
  id: 'env.proxy',
  title: 'Proxy variables',
  stage: 'env',
  dependsOn: [],
  uses: ['env.region', 'env.pod-identity'],
  async run(ctx, upstream): Promise<CheckOutcome<undefined>> {
    const go = proxySettings(ctx.env, 'go');
    const py = proxySettings(ctx.env, 'python');
    const anyProxy = go.http || go.https || py.http || py.https;
    if (!anyProxy) return { status: 'pass', summary: 'no proxy variables set' };

    const destinations: Destination[] = [];
    const podIdentity = upstream.output('env.pod-identity');
    if (podIdentity) {
      try {
        destinations.push({ label: 'Pod Identity agent', url: new URL(podIdentity.fullUri), families: ['go-v2'] });
      } catch {
        // env.pod-identity passes only parseable URIs.
      }
    }
    const irsaComplete = Boolean(ctx.env[AWS_ROLE_ARN] && ctx.env[AWS_WEB_IDENTITY_TOKEN_FILE]);
    if (!irsaComplete && !podIdentity) {
      // Without IRSA or Pod Identity the chain ends at IMDS, and the SDKs also ask it for the region.
      const imds = ctx.env[AWS_EC2_METADATA_SERVICE_ENDPOINT] || 'http://169.254.169.254';
      try {
        destinations.push({ label: 'IMDS', url: new URL(imds), families: ['boto3', 'go-v2'] });
      } catch {
        destinations.push({ label: 'IMDS', url: new URL('http://169.254.169.254'), families: ['boto3', 'go-v2'] });
      }
    }
    if (irsaComplete) {
      const region = upstream.output('env.region');
      for (const e of region?.stsEndpoints ?? []) {
        if (e.sdk === 'js-v3') continue;
        try {
          destinations.push({ label: `STS (${e.url})`, url: new URL(e.url), families: [e.sdk] });
        } catch {
          // An override that is not a URL is env.region's finding.
        }
      }
    }

    const intercepts: Intercept[] = [];
    for (const destination of destinations) {
      if (isLoopback(destination.url.hostname)) continue;
      for (const sdk of destination.families) {
        const settings = sdk === 'go-v2' ? go : py;
        const proxyVar = destination.url.protocol === 'https:' ? settings.https : settings.http;
        if (!proxyVar) continue;
        const covered =
          settings.noProxy !== undefined &&
          noProxyCovers(
            settings.noProxy.value,
            destination.url.hostname,
            portOf(destination.url),
            sdk === 'go-v2' ? 'go' : 'python',
          );
        if (!covered) {
          intercepts.push({ destination, sdk, proxyVariable: proxyVar.name, proxy: redactProxy(proxyVar.value) });
        }
      }
    }

    const details: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.env)) {
      if (value && /^(https?_proxy|no_proxy)$/i.test(name)) {
        details[name] = /no_proxy/i.test(name) ? value.slice(0, 300) : redactProxy(value);
      }
    }
    details['js-v3'] = 'ignores proxy variables unless the app configures a proxy agent';

    if (intercepts.length === 0) {
      return {
        status: 'pass',
        summary:
          destinations.length === 0
            ? 'a proxy is set; no metadata or STS call of this setup goes through it'
            : `a proxy is set and NO_PROXY covers ${destinations.map((d) => d.url.hostname).join(', ')}`,
        details,
      };
    }
    const self = await readPodSelf(ctx);
    const hosts = [...new Set(intercepts.map((i) => stripBrackets(i.destination.url.hostname)))];
    const currentNoProxy = go.noProxy?.value ?? py.noProxy?.value ?? '';
    const needed = [
      ...new Set([...hosts, ...(podIdentity ? ['169.254.170.23', 'fd00:ec2::23'] : []), '169.254.169.254']),
    ];
    const merged = [
      ...currentNoProxy
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
      ...needed,
    ];
    const newValue = [...new Set(merged)].join(',');
    const lines = intercepts.map(
      (i) =>
        `${FAMILY_NAMES[i.sdk]} sends the ${i.destination.label} call (${i.destination.url.host}) through ${i.proxyVariable}=${i.proxy}`,
    );
    const finding: FindingInput = {
      code: 'PROXY_INTERCEPTS_METADATA',
      summary: `${lines.join('; ')}, because NO_PROXY${currentNoProxy ? ` (${currentNoProxy.slice(0, 200)})` : ' is not set and'} does not cover it. A proxy cannot reach the node-local link addresses (169.254.170.23, 169.254.169.254), and the STS call then depends on the proxy. The JS SDK v3 does not use proxy variables unless the app passes a proxy agent. Note: Go reads NO_PROXY before no_proxy, botocore no_proxy first and without CIDR support, so set both spellings and list addresses explicitly.`,
      evidence: {
        intercepted: intercepts.map((i) => ({
          sdk: i.sdk,
          destination: i.destination.url.host,
          proxyVariable: i.proxyVariable,
        })),
        noProxy: currentNoProxy.slice(0, 300) || null,
      },
      ...podRemedy(self, (pod) =>
        remedy(
          `Add ${needed.join(', ')} to NO_PROXY and no_proxy in the container spec.`,
          setEnvCommands(pod, [`NO_PROXY=${newValue}`, `no_proxy=${newValue}`]),
          [LINKS.podIdentity],
        ),
      ),
    };
    return {
      status: 'fail',
      summary: `the proxy would intercept ${hosts.join(', ')} (${[...new Set(intercepts.map((i) => FAMILY_NAMES[i.sdk]))].join(', ')})`,
      details,
      findings: [finding],
    };
  },
};
