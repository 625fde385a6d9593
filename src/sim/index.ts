import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  IRSA_AUDIENCE,
  IRSA_TOKEN_PATH,
  KUBE_SA_DIR,
  POD_IDENTITY_AUDIENCE,
  POD_IDENTITY_TOKEN_PATH,
  POD_IDENTITY_URI,
} from '../aws/env-names';
import type { Context, RunOptions } from '../context/context';
import { currentUser, systemClock } from '../context/context';
import { createFileView } from '../context/files';
import { createNetClient } from '../aws/http';
import type { FindingCode } from '../run/findings';
import type { Verdict } from '../run/types';
import type { AgentMode, EksAuthFault } from './agent';
import { startAgent } from './agent';
import { CredentialBook, uniqueIdBody } from './identities';
import type { ImdsMode } from './imds';
import { startImds } from './imds';
import { createMemoryFileView } from './memory-files';
import type { IssuerFault } from './oidc';
import { startIssuer } from './oidc';
import type { OidcProviderEntry, StsFault } from './sts';
import { startSts } from './sts';

/*
 * A whole simulated EKS on loopback for one scenario: the cluster's OIDC issuer, STS with the account's IAM
 * OIDC providers and the role, the node's IMDS and the Pod Identity agent, plus the env and files the
 * webhook and kubelet would give the pod. Every endpoint is reached through the standard variables
 * (AWS_ENDPOINT_URL_STS, AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_CONTAINER_CREDENTIALS_FULL_URI and the
 * token's own `iss`), so the tool runs against it with no test-only switch (docs/cli.md, "Environment").
 */

export const SCENARIO_NAMES = [
  'healthy-irsa',
  'trust-sub-mismatch',
  'audience-mismatch',
  'no-oidc-provider',
  'token-expired-at-sts',
  'sts-clock-ahead',
  'clock-skew',
  'custom-audience',
  'role-name-annotation',
  'jwks-unreachable',
  'sts-blackhole',
  'sts-region-disabled',
  'sts-throttled',
  'node-role-fallback',
  'static-keys-override',
  'healthy-pod-identity',
  'pod-identity-access-denied',
  'pod-identity-no-association',
  'pod-identity-eks-auth-unreachable',
  'agent-unreachable',
  'issuer-unreachable',
  'imds-reachable',
  'all-blackhole',
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioExpectation {
  /** The report's rootCause.code. */
  readonly rootCause: FindingCode | null;
  readonly verdict: Verdict;
  readonly exitCode: 0 | 1;
  /** Other findings the report must also contain (warnings, or errors behind the root cause). */
  readonly alsoFound?: readonly FindingCode[];
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** What a correct diagnosis reports: the contract for the checks (docs/report.md). */
  readonly expect: ScenarioExpectation;
}

export interface SimulatedEks {
  readonly scenario: Scenario;
  /** The ServiceAccount annotations the scenario's Kubernetes API shows beyond the defaults. */
  readonly serviceAccount: { readonly audience: string | undefined; readonly roleArnAnnotation: string | undefined };
  /** Exactly what the webhook injects for the scenario, plus the endpoint variables pointing at the sim. */
  readonly env: Record<string, string>;
  /** App paths (as the pod sees them) to contents. */
  readonly files: Record<string, string>;
  readonly urls: { readonly issuer: string; readonly sts: string; readonly imds: string; readonly agent: string };
  /** Every secret value the sim handed out or minted so far; grows as STS, IMDS and the agent answer. */
  readonly secrets: string[];
  /** Every access key id it handed out so far (static keys in the env, STS, IMDS, the agent); grows likewise. */
  readonly accessKeyIds: string[];
  /** What the scenario's cluster holds, for the simulated Kubernetes cluster of the launchers (launch-world.ts). */
  readonly workload: SimulatedWorkload;
  /**
   * Mints a projected token for any pod of the cluster, signed by the scenario's issuer; the IRSA and Pod Identity
   * tokens (any audience but the API server's) get the scenario's token timing (a node whose kubelet stopped
   * refreshing, a skewed clock).
   */
  mintToken(request: {
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly podName: string;
    readonly audience: string;
    readonly expirationSeconds: number;
  }): Promise<string>;
  close(): Promise<void>;
}

/** The scenario as Kubernetes objects would state it (the pod's env above is what the webhook made of it). */
export interface SimulatedWorkload {
  /** eks.amazonaws.com/role-arn of the ServiceAccount, if annotated. */
  readonly roleAnnotation: string | undefined;
  /** `present`: the ServiceAccount has a Pod Identity association; `deleted`: it had one when the app pod was created. */
  readonly podIdentityAssociation: 'present' | 'deleted' | 'none';
  /** Variables set by hand in the app container's spec (beside what the webhook injects). */
  readonly appEnv: Readonly<Record<string, string>>;
  /** The simulated network: endpoint variables every container gets, and link-local URLs mapped to loopback. */
  readonly network: {
    readonly env: Readonly<Record<string, string>>;
    readonly rewrite: Readonly<Record<string, string>>;
  };
}

/** The cluster and account every scenario lives in. */
export const SIM_ACCOUNT = '111122223333';
export const SIM_REGION = 'us-west-2';
export const SIM_NAMESPACE = 'shop';
export const SIM_SERVICE_ACCOUNT = 'checkout';
export const SIM_POD = 'checkout-7d9f8b6c5-x2k4q';
export const SIM_CLUSTER = 'demo-cluster';
export const SIM_ROLE_ARN = `arn:aws:iam::${SIM_ACCOUNT}:role/shop-checkout`;
export const SIM_NODE_ROLE = 'eks-demo-nodegroup-NodeInstanceRole-1A2B3C4D5E6F';
export const SIM_INSTANCE_ID = 'i-0a1b2c3d4e5f67890';
/** HOME of the app: an empty directory, so nothing reads the developer's ~/.aws. */
export const SIM_HOME = '/home/app';

interface Setup {
  readonly mechanism: 'irsa' | 'pod-identity' | 'none';
  /** The projected token: issued this many seconds from now (negative: in the past), with this TTL. */
  readonly token?: { readonly issuedAtOffsetSeconds?: number; readonly ttlSeconds?: number };
  readonly issuer?: { readonly pod?: IssuerFault; readonly aws?: IssuerFault };
  /** The account's IAM OIDC provider for the cluster's issuer. */
  readonly provider?: 'registered' | 'missing' | 'wrong-audience';
  /** The `:sub` the role's trust policy allows, when not this pod's. */
  readonly trustSubject?: string;
  readonly sts?: { readonly fault?: StsFault; readonly clockSkewSeconds?: number };
  /** hop-limit-1 (the AL2023 default) unless the scenario says otherwise. */
  readonly imds?: ImdsMode;
  readonly agent?: {
    readonly mode?: AgentMode;
    readonly association?: 'ok' | 'denied' | 'missing';
    readonly eksAuth?: EksAuthFault;
  };
  /**
   * The ServiceAccount as the demo's Kubernetes API serves it: its eks.amazonaws.com/audience (also the
   * token's audience, the provider's client ID and the trust policy's :aud), and the role-arn value when it
   * is a role name the webhook composes into AWS_ROLE_ARN.
   */
  readonly serviceAccount?: { readonly audience?: string; readonly roleArnAnnotation?: string };
  /** AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY of an IAM user, hand-set beside IRSA. */
  readonly staticKeys?: boolean;
}

interface Definition {
  readonly description: string;
  readonly expect: ScenarioExpectation;
  readonly setup: Setup;
}

const broken = (rootCause: FindingCode, alsoFound?: readonly FindingCode[]): ScenarioExpectation => ({
  rootCause,
  verdict: 'broken',
  exitCode: 1,
  ...(alsoFound ? { alsoFound } : {}),
});

const DEFINITIONS: Record<ScenarioName, Definition> = {
  'healthy-irsa': {
    description: 'IRSA set up right: the token is valid, STS hands out the role, IMDS is blocked for pods.',
    expect: { rootCause: null, verdict: 'healthy', exitCode: 0 },
    setup: { mechanism: 'irsa' },
  },
  'trust-sub-mismatch': {
    description:
      "The role's trust policy allows system:serviceaccount:default:checkout, not this pod's namespace shop: STS AccessDenied.",
    expect: broken('TRUST_POLICY_DENIED'),
    setup: { mechanism: 'irsa', trustSubject: `system:serviceaccount:default:${SIM_SERVICE_ACCOUNT}` },
  },
  'audience-mismatch': {
    description:
      'The IAM OIDC provider was created with client id sts.amazon.com (typo) instead of sts.amazonaws.com: Incorrect token audience.',
    expect: broken('OIDC_AUDIENCE_NOT_ALLOWED'),
    setup: { mechanism: 'irsa', provider: 'wrong-audience' },
  },
  'no-oidc-provider': {
    description: "The role's account has no IAM OIDC provider for the cluster's issuer.",
    expect: broken('OIDC_PROVIDER_NOT_REGISTERED'),
    setup: { mechanism: 'irsa', provider: 'missing' },
  },
  'token-expired-at-sts': {
    description:
      'The token file holds a token that expired an hour ago (the kubelet stopped refreshing it); STS would say ExpiredTokenException too.',
    expect: broken('TOKEN_EXPIRED'),
    setup: { mechanism: 'irsa', token: { issuedAtOffsetSeconds: -(86_400 + 3_600), ttlSeconds: 86_400 } },
  },
  'sts-clock-ahead': {
    description:
      "A one-hour token that is still valid by this pod's clock, but AWS's clock is an hour ahead (this node's is behind): STS says ExpiredTokenException, and the clock is the cause.",
    expect: broken('CLOCK_SKEW', ['STS_TOKEN_EXPIRED']),
    setup: {
      mechanism: 'irsa',
      token: { issuedAtOffsetSeconds: -600, ttlSeconds: 3_600 },
      sts: { clockSkewSeconds: 3_600 },
    },
  },
  'clock-skew': {
    description:
      "This node's clock is 20 minutes behind AWS's: the token is fine and STS hands out the role, but every signed call fails with SignatureDoesNotMatch: Signature expired.",
    expect: broken('CLOCK_SKEW'),
    setup: { mechanism: 'irsa', token: { issuedAtOffsetSeconds: -60 }, sts: { clockSkewSeconds: 1_200 } },
  },
  'custom-audience': {
    description:
      'The ServiceAccount sets eks.amazonaws.com/audience: sts.example.com; the IAM OIDC provider lists it as a client ID and the trust policy names it: healthy.',
    expect: { rootCause: null, verdict: 'healthy', exitCode: 0 },
    setup: { mechanism: 'irsa', serviceAccount: { audience: 'sts.example.com' } },
  },
  'role-name-annotation': {
    description:
      'The ServiceAccount names the role by name (eks.amazonaws.com/role-arn: shop-checkout) and the webhook composed the ARN from the cluster account: healthy, no restart needed.',
    expect: { rootCause: null, verdict: 'healthy', exitCode: 0 },
    setup: { mechanism: 'irsa', serviceAccount: { roleArnAnnotation: 'shop-checkout' } },
  },
  'jwks-unreachable': {
    description:
      "A self-hosted issuer the pod reaches, but STS cannot fetch its keys: Couldn't retrieve verification key.",
    expect: broken('OIDC_KEYS_UNRETRIEVABLE'),
    setup: { mechanism: 'irsa', issuer: { aws: 'jwks-not-found' } },
  },
  'sts-blackhole': {
    description: 'The STS endpoint accepts connections and never answers.',
    expect: broken('STS_UNREACHABLE'),
    setup: { mechanism: 'irsa', sts: { fault: 'blackhole' } },
  },
  'sts-region-disabled': {
    description: 'STS is deactivated in us-west-2 for the account: RegionDisabledException.',
    expect: broken('STS_REGION_DISABLED'),
    setup: { mechanism: 'irsa', sts: { fault: 'region-disabled' } },
  },
  'sts-throttled': {
    description:
      'STS throttles AssumeRoleWithWebIdentity (Rate exceeded): a warning, apps that retry get through, apps that build a session per call do not.',
    expect: { rootCause: null, verdict: 'degraded', exitCode: 0, alsoFound: ['STS_THROTTLED'] },
    setup: { mechanism: 'irsa', sts: { fault: 'throttle' } },
  },
  'node-role-fallback': {
    description:
      "The pod was never mutated (no IRSA env) and IMDS answers pods: apps silently run as the node's instance role.",
    expect: broken('IRSA_ENV_MISSING', ['NODE_ROLE_FALLBACK', 'IMDS_REACHABLE']),
    setup: { mechanism: 'none', imds: 'reachable' },
  },
  'static-keys-override': {
    description:
      'IRSA is set up, but hand-set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY of an IAM user win in every SDK chain.',
    expect: broken('STATIC_CREDENTIALS_OVERRIDE', ['IDENTITY_MISMATCH']),
    setup: { mechanism: 'irsa', staticKeys: true },
  },
  'healthy-pod-identity': {
    description: 'EKS Pod Identity set up right: the agent hands out the associated role.',
    expect: { rootCause: null, verdict: 'healthy', exitCode: 0 },
    setup: { mechanism: 'pod-identity' },
  },
  'pod-identity-access-denied': {
    description:
      "The associated role's trust lacks pods.eks.amazonaws.com with sts:AssumeRole + sts:TagSession: the agent says AccessDeniedException.",
    expect: broken('POD_IDENTITY_ACCESS_DENIED'),
    setup: { mechanism: 'pod-identity', agent: { association: 'denied' } },
  },
  'pod-identity-no-association': {
    description: 'The Pod Identity association of this ServiceAccount was deleted: ResourceNotFoundException.',
    expect: broken('POD_IDENTITY_NO_ASSOCIATION'),
    setup: { mechanism: 'pod-identity', agent: { association: 'missing' } },
  },
  'pod-identity-eks-auth-unreachable': {
    description:
      'A private cluster without the eks-auth VPC endpoint: the agent runs but cannot reach EKS Auth and answers HTTP 500 "[]".',
    expect: broken('EKS_AUTH_UNREACHABLE'),
    setup: { mechanism: 'pod-identity', agent: { eksAuth: 'unreachable' } },
  },
  'agent-unreachable': {
    description: 'The Pod Identity agent accepts connections and never answers (hung, or traffic dropped).',
    expect: broken('POD_IDENTITY_AGENT_UNREACHABLE'),
    setup: { mechanism: 'pod-identity', agent: { mode: 'blackhole' } },
  },
  'issuer-unreachable': {
    description:
      "The pod cannot fetch the issuer's discovery document (private VPC), but STS can: IRSA works, a warning only.",
    expect: { rootCause: null, verdict: 'degraded', exitCode: 0, alsoFound: ['OIDC_DISCOVERY_UNREACHABLE'] },
    setup: { mechanism: 'irsa', issuer: { pod: 'not-found' } },
  },
  'imds-reachable': {
    description: "IRSA works, but IMDSv2 answers pods (hop limit 2): any process here can take the node's role.",
    expect: { rootCause: null, verdict: 'degraded', exitCode: 0, alsoFound: ['IMDS_REACHABLE'] },
    setup: { mechanism: 'irsa', imds: 'reachable' },
  },
  'all-blackhole': {
    description: 'Every endpoint (issuer, STS, IMDS, agent) accepts connections and never answers.',
    expect: broken('STS_UNREACHABLE'),
    setup: {
      mechanism: 'irsa',
      issuer: { pod: 'blackhole', aws: 'blackhole' },
      sts: { fault: 'blackhole' },
      imds: 'blackhole',
      agent: { mode: 'blackhole' },
    },
  },
};

/** The scenarios in a stable order (demo --list, the end-to-end tests). */
export const SCENARIOS: readonly Scenario[] = SCENARIO_NAMES.map((name) => ({
  name,
  description: DEFINITIONS[name].description,
  expect: DEFINITIONS[name].expect,
}));

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(value);
}

/** Changes to a scenario's network that tests make (the fault matrix). */
export interface SimulatedEksOptions {
  /** The pod reaches the issuer (and/or its JWKS) at these origins instead; STS still reaches the real one. */
  readonly issuerPodRoute?: { readonly issuerOrigin?: string; readonly jwksOrigin?: string };
  /**
   * The ServiceAccount the scenario is about, when not shop/checkout (a fleet's simulated cluster holds many):
   * the role's trust policy, the Pod Identity association and the pod's token name it.
   */
  readonly workload?: { readonly namespace: string; readonly serviceAccount: string; readonly podName: string };
}

/** Starts every endpoint of the scenario on 127.0.0.1 and mints the pod's token. */
export async function startSimulatedEks(
  scenario: ScenarioName | { readonly name: ScenarioName },
  options: SimulatedEksOptions = {},
): Promise<SimulatedEks> {
  const name = typeof scenario === 'string' ? scenario : scenario.name;
  const definition = DEFINITIONS[name];
  if (!definition) throw new Error(`unknown scenario ${String(name)}`);
  const setup = definition.setup;
  const namespace = options.workload?.namespace ?? SIM_NAMESPACE;
  const serviceAccountName = options.workload?.serviceAccount ?? SIM_SERVICE_ACCOUNT;
  const podName = options.workload?.podName ?? SIM_POD;
  const book = new CredentialBook();
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  };
  try {
    const issuer = await startIssuer({
      ...setup.issuer,
      onSecret: (s) => book.recordSecret(s),
      podRoute: options.issuerPodRoute,
    });
    closers.push(issuer.close);

    const audience = setup.serviceAccount?.audience ?? IRSA_AUDIENCE;
    const clientIds = setup.provider === 'wrong-audience' ? ['sts.amazon.com'] : [audience];
    const providers: Record<string, readonly OidcProviderEntry[]> =
      setup.provider === 'missing' ? {} : { [SIM_ACCOUNT]: [{ url: issuer.hostPath, clientIds }] };
    const trustPolicy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::${SIM_ACCOUNT}:oidc-provider/${issuer.hostPath}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              [`${issuer.hostPath}:sub`]:
                setup.trustSubject ?? `system:serviceaccount:${namespace}:${serviceAccountName}`,
              [`${issuer.hostPath}:aud`]: audience,
            },
          },
        },
      ],
    };
    const sts = await startSts({
      book,
      providers,
      roles: [{ arn: SIM_ROLE_ARN, trustPolicy }],
      fault: setup.sts?.fault,
      clockSkewSeconds: setup.sts?.clockSkewSeconds,
      region: SIM_REGION,
      issuerRoute: issuer.awsRoute,
    });
    closers.push(sts.close);

    const imds = await startImds({
      book,
      mode: setup.imds ?? 'hop-limit-1',
      account: SIM_ACCOUNT,
      region: SIM_REGION,
      roleName: SIM_NODE_ROLE,
      instanceId: SIM_INSTANCE_ID,
    });
    closers.push(imds.close);

    const association = setup.agent?.association ?? 'ok';
    const agent = await startAgent({
      book,
      mode: setup.agent?.mode ?? 'ok',
      eksAuth: setup.agent?.eksAuth,
      clusterName: SIM_CLUSTER,
      associations:
        association === 'missing'
          ? []
          : [
              {
                namespace,
                serviceAccount: serviceAccountName,
                roleArn: SIM_ROLE_ARN,
                trustDeniesEks: association === 'denied',
              },
            ],
    });
    closers.push(agent.close);

    const who = { namespace, serviceAccount: serviceAccountName, podName };
    const files: Record<string, string> = {
      [`${KUBE_SA_DIR}/namespace`]: namespace,
      // The pod's own Kubernetes API token (every pod that automounts it has one; docs/mechanics.md 2.1).
      [`${KUBE_SA_DIR}/token`]: await issuer.mintToken({
        ...who,
        audience: ['https://kubernetes.default.svc'],
        ttlSeconds: 3_607,
      }),
    };
    // The webhook's variables in its order (docs/mechanics.md 1.3), then what points the SDKs at the sim.
    const env: Record<string, string> = {};
    if (setup.mechanism !== 'none') {
      env.AWS_STS_REGIONAL_ENDPOINTS = 'regional';
      env.AWS_DEFAULT_REGION = SIM_REGION;
      env.AWS_REGION = SIM_REGION;
    }
    if (setup.mechanism === 'irsa') {
      env.AWS_ROLE_ARN = SIM_ROLE_ARN;
      env.AWS_WEB_IDENTITY_TOKEN_FILE = IRSA_TOKEN_PATH;
      files[IRSA_TOKEN_PATH] = await issuer.mintToken({ ...who, audience: [audience], ...setup.token });
    } else if (setup.mechanism === 'pod-identity') {
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI = agent.credentialsUri;
      env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = POD_IDENTITY_TOKEN_PATH;
      files[POD_IDENTITY_TOKEN_PATH] = await issuer.mintToken({
        ...who,
        audience: [POD_IDENTITY_AUDIENCE],
        ...setup.token,
      });
    }
    const appEnv: Record<string, string> = {};
    if (setup.staticKeys) {
      const keys = book.mintStatic({
        arn: `arn:aws:iam::${SIM_ACCOUNT}:user/ci-deployer`,
        userId: `AIDA${uniqueIdBody()}`,
        account: SIM_ACCOUNT,
      });
      env.AWS_ACCESS_KEY_ID = keys.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = keys.secretAccessKey;
      appEnv.AWS_ACCESS_KEY_ID = keys.accessKeyId;
      appEnv.AWS_SECRET_ACCESS_KEY = keys.secretAccessKey;
    }
    env.AWS_ENDPOINT_URL_STS = sts.url;
    env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `${imds.url}/`;
    env.POD_NAMESPACE = namespace;
    env.POD_NAME = podName;
    env.HOME = SIM_HOME;

    return {
      scenario: SCENARIOS.find((s) => s.name === name) as Scenario,
      serviceAccount: {
        audience: setup.serviceAccount?.audience,
        roleArnAnnotation: setup.serviceAccount?.roleArnAnnotation,
      },
      env,
      files,
      urls: { issuer: issuer.issuer, sts: sts.url, imds: imds.url, agent: agent.credentialsUri },
      secrets: book.secrets,
      accessKeyIds: book.accessKeyIds,
      workload: {
        roleAnnotation: setup.mechanism === 'irsa' ? SIM_ROLE_ARN : undefined,
        podIdentityAssociation:
          setup.mechanism !== 'pod-identity' ? 'none' : association === 'missing' ? 'deleted' : 'present',
        appEnv,
        network: {
          env: { AWS_ENDPOINT_URL_STS: sts.url, AWS_EC2_METADATA_SERVICE_ENDPOINT: `${imds.url}/` },
          rewrite: { [POD_IDENTITY_URI]: agent.credentialsUri },
        },
      },
      mintToken: ({ namespace, serviceAccount, podName, audience, expirationSeconds }) =>
        issuer.mintToken({
          namespace,
          serviceAccount,
          podName,
          audience: [audience],
          ttlSeconds: expirationSeconds,
          // Every projected token but the API server's own is the scenario's IRSA or Pod Identity token.
          ...(audience !== 'https://kubernetes.default.svc' ? setup.token : {}),
        }),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Writes the pod's files under `dir` (dir + app path) and returns the env with every path that names one of
 * them, and HOME, rewritten to where it now is: what a spawned binary needs, since it reads the real disk.
 */
export function materialize(sim: SimulatedEks, dir: string): { env: Record<string, string>; root: string } {
  const under = (appPath: string) => path.join(dir, appPath);
  for (const [appPath, contents] of Object.entries(sim.files)) {
    mkdirSync(path.dirname(under(appPath)), { recursive: true });
    writeFileSync(under(appPath), contents);
    chmodSync(under(appPath), 0o644);
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(sim.env)) {
    env[name] = Object.hasOwn(sim.files, value) ? under(value) : value;
  }
  if (sim.env.HOME !== undefined) {
    mkdirSync(under(sim.env.HOME), { recursive: true });
    env.HOME = under(sim.env.HOME);
  }
  return { env, root: dir };
}

/**
 * The Kubernetes API of a demo pod set up for IRSA: the pod as the webhook mutated it, its ServiceAccount
 * annotated with the role and the webhook configuration, on loopback; with the env and in-memory file that
 * point the doctor at it (KUBECONFIG), so the demo runs the Kubernetes checks too. Undefined for the other
 * mechanisms (the end-to-end tests cover their API states with their own servers).
 */
export async function startDemoKubeApi(
  sim: SimulatedEks,
): Promise<{ env: Record<string, string>; files: Record<string, string>; close(): Promise<void> } | undefined> {
  if (sim.env.AWS_ROLE_ARN === undefined) return undefined;
  const { kubeScenario, startKubeApi } = await import('./kube-api');
  const api = await startKubeApi(
    kubeScenario('healthy', {
      namespace: SIM_NAMESPACE,
      serviceAccount: SIM_SERVICE_ACCOUNT,
      deployment: 'checkout',
      replicaSet: SIM_POD.slice(0, SIM_POD.lastIndexOf('-')),
      podName: SIM_POD,
      roleArn: SIM_ROLE_ARN,
      region: SIM_REGION,
      ...(sim.serviceAccount.audience ? { audience: sim.serviceAccount.audience } : {}),
      ...(sim.serviceAccount.roleArnAnnotation ? { roleArnAnnotation: sim.serviceAccount.roleArnAnnotation } : {}),
    }).state,
  );
  const file = `${SIM_HOME}/.kube/config`;
  return { env: { KUBECONFIG: file }, files: { [file]: api.kubeconfigYaml }, close: api.close };
}

/**
 * The Context of `irsa-doctor demo`: the sim's env and in-memory files, the real clock and network (every
 * URL in the env is loopback), and this process's user. Nothing of the developer's env or disk is read.
 */
export function demoContext(
  sim: SimulatedEks,
  options: RunOptions,
  kube?: { readonly env: Record<string, string>; readonly files: Record<string, string> },
): Context {
  const files = createMemoryFileView({ ...sim.files, ...kube?.files }, systemClock.now());
  return {
    env: { ...sim.env, ...kube?.env },
    files,
    clock: systemClock,
    user: currentUser(),
    options,
    peers: async () => [],
    net: createNetClient(),
    // Files named on the command line (--trust-policy) are the user's own, on this machine.
    localFiles: createFileView('/'),
  };
}
