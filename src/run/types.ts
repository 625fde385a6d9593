import type { Context } from '../context/context';
import type { ShellCommand } from '../checks/shell';
import type { CheckId, CheckOutputs } from '../checks/outputs';
import type { FindingCode, Severity } from './findings';

/**
 * `pass` ok; `warn` works but risky; `fail` the thing is broken; `skip` not run (the reason is the summary);
 * `error` the check itself could not run (timeout, unexpected response). docs/report.md
 */
export type Status = 'pass' | 'warn' | 'fail' | 'skip' | 'error';
export const STATUSES: readonly Status[] = ['pass', 'warn', 'fail', 'skip', 'error'];

/**
 * The links of the credential chain, in the order a broken link explains the ones after it. `kube` comes first
 * because a ServiceAccount without its annotation explains why the env is missing.
 */
export type Stage = 'kube' | 'env' | 'token' | 'issuer' | 'sts' | 'identity';
export const STAGE_ORDER: readonly Stage[] = ['kube', 'env', 'token', 'issuer', 'sts', 'identity'];

export type Mechanism = 'irsa' | 'pod-identity' | 'static-keys' | 'node-role' | 'none';
export type Verdict = 'healthy' | 'degraded' | 'broken';
export type CredentialSource = 'irsa' | 'pod-identity' | 'node-role' | 'static-keys' | 'profile' | 'none' | 'unknown';

export interface Remedy {
  readonly summary: string;
  /**
   * Shell commands, one each, shown behind a `$` prompt. Made only by src/checks/shell.ts (`sh`, `heredoc`):
   * every value in them is quoted for a POSIX shell.
   */
  readonly commands: readonly ShellCommand[];
  readonly links: readonly string[];
  /** Documents to save or paste (YAML, Terraform, eksctl config): shown whole, never behind a `$` prompt. */
  readonly snippets?: readonly Snippet[];
}

export interface Snippet {
  /** What it is and what to do with it: "The same objects as YAML (kubectl apply -f FILE)". */
  readonly title: string;
  readonly language: 'yaml' | 'hcl' | 'json';
  readonly text: string;
}

/** Evidence values are data for the reader; strings from outside are escaped by the renderers. */
export type Evidence = Readonly<Record<string, unknown>>;

export interface FindingInput {
  readonly code: FindingCode;
  readonly summary: string;
  readonly evidence?: Evidence;
  readonly remedy: Remedy;
  /**
   * The same remedy once the Kubernetes API has shown the pod (kube.pod runs after the env and token checks):
   * commands then name the pod's own workload (`rollout restart deployment/checkout`) instead of a
   * placeholder. The runner calls it when it assembles the report; without API access `remedy` stands.
   */
  readonly remedyFor?: (pod: PodFacts) => Remedy;
}

export interface Finding extends Omit<FindingInput, 'remedyFor'> {
  readonly severity: Severity;
  readonly checkId: CheckId;
  readonly evidence: Evidence;
}

export interface Identity {
  readonly expectedRoleArn: string | null;
  readonly callerArn: string | null;
  readonly source: CredentialSource;
  readonly nodeRoleArn: string | null;
}

/** The pod as the Kubernetes API shows it (published by kube.pod), for the remedies of every check. */
export interface PodFacts {
  readonly namespace: string;
  readonly podName: string;
  /** The workload that owns the pod (a ReplicaSet followed to its Deployment); undefined for a bare pod. */
  readonly owner: { readonly kind: string; readonly name: string } | undefined;
  /** The pod carries eks.amazonaws.com/skip-pod-identity-webhook, so the webhook never mutates it. */
  readonly skipLabel: boolean;
}

/** What a check may state about the whole pod; merged into the Report in declared order. */
export interface Facts {
  readonly mechanism?: Mechanism;
  readonly identity?: Partial<Identity>;
  readonly pod?: PodFacts;
}

export interface CheckOutcome<Out = unknown> {
  readonly status: Status;
  readonly summary: string;
  readonly findings?: readonly FindingInput[];
  /** Typed data for the checks that depend on this one. Never rendered as such. */
  readonly output?: Out;
  /** Short display lines (claims, paths, endpoints): rendered in text/TUI and in JSON as `details`. */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
  readonly facts?: Facts;
  /**
   * For a `skip` only: 'not-applicable' when this pod's mechanism has nothing here to check (env.irsa on a Pod
   * Identity pod), so the link counts as verified; '--skip' when the user deselected it. Any other skip leaves
   * its link "not checked", with the summary as the reason (docs/report.md, "verification").
   */
  readonly skipReason?: 'not-applicable' | '--skip';
}

export interface Upstream {
  /**
   * The output of a check this one declared in `dependsOn` or `uses`, when it ran to an outcome (pass, warn
   * or fail) and published one; undefined when it was skipped, errored or published none. A failing check
   * may still publish what it established (env.precedence: static keys win; env.mechanism: none), which is
   * what a soft dependant (`uses`) needs to go on; a hard dependant never sees a failed check's output.
   */
  output<K extends CheckId>(id: K): CheckOutputs[K] | undefined;
  /** The status of a declared dependency, for checks that adapt to a soft dependency. */
  status(id: CheckId): Status | undefined;
}

export interface Check<K extends CheckId = CheckId> {
  readonly id: K;
  readonly title: string;
  readonly stage: Stage;
  /** Hard dependencies: this check is `skip` unless each of them ends `pass` or `warn`. */
  readonly dependsOn: readonly CheckId[];
  /** Soft dependencies: waited for and readable, but their failure does not skip this check. */
  readonly uses?: readonly CheckId[];
  /** What the check needs beyond env and files; `--offline` / `--no-kube` skip it with that reason. */
  readonly needs?: 'network' | 'kube';
  /** Its own deadline; the run's deadline still wins when it is nearer. */
  readonly timeoutMs?: number;
  run(ctx: Context, upstream: Upstream, signal: AbortSignal): Promise<CheckOutcome<CheckOutputs[K]>>;
}

export interface CheckResult {
  readonly id: CheckId;
  readonly title: string;
  readonly status: Status;
  readonly summary: string;
  readonly durationMs: number;
  readonly dependsOn: readonly CheckId[];
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

export interface RootCause {
  readonly code: FindingCode;
  readonly checkId: CheckId;
  readonly summary: string;
  readonly remedy: Remedy;
}

/**
 * Why a check did not verify its part of the chain: a flag the user gave (`only`, `skip`, `offline`,
 * `no-kube`), a check it depends on that failed (`dependency`), something the check needed and did not have
 * (`unavailable`: no Kubernetes API, not permitted, no --trust-policy file), or it could not finish (`error`).
 */
export type NotCheckedCause = 'only' | 'skip' | 'offline' | 'no-kube' | 'dependency' | 'unavailable' | 'error';
export const NOT_CHECKED_CAUSES: readonly NotCheckedCause[] = [
  'only',
  'skip',
  'offline',
  'no-kube',
  'dependency',
  'unavailable',
  'error',
];

export interface NotChecked {
  readonly checkId: CheckId;
  readonly cause: NotCheckedCause;
  readonly reason: string;
}

/**
 * One link of the chain: `verified` when every check of it ran and found nothing broken (or had nothing to
 * check for this mechanism), `problem` when one failed or found an error, `partial` when some were verified and
 * others not checked, `not-checked` when none was.
 */
export type LinkState = 'verified' | 'problem' | 'partial' | 'not-checked';
export const LINK_STATES: readonly LinkState[] = ['verified', 'problem', 'partial', 'not-checked'];

export interface LinkVerification {
  readonly link: Stage;
  readonly state: LinkState;
  /** Ran to pass or warn. */
  readonly verified: readonly CheckId[];
  /** Skipped because this pod's mechanism has nothing for them to check. */
  readonly notApplicable: readonly CheckId[];
  /** Failed, or reported a finding of severity error. */
  readonly problems: readonly CheckId[];
  readonly notChecked: readonly NotChecked[];
}

/**
 * `obtained`: the check that gets this mechanism's credentials (sts.assume-role, pod-identity.agent) got them,
 * or identity.caller confirmed who an app here is; `not-obtained`: it ran and did not; `not-checked`: it did not
 * run or could not finish.
 */
export type CredentialsState = 'obtained' | 'not-obtained' | 'not-checked';
export const CREDENTIALS_STATES: readonly CredentialsState[] = ['obtained', 'not-obtained', 'not-checked'];

/** What the run verified and what it did not, and why; the headline is derived from it (docs/report.md). */
export interface Verification {
  readonly credentials: CredentialsState;
  /** The check that obtained them, or that would have. */
  readonly credentialsCheck: CheckId;
  /** The chain's links in reading order (env, token, issuer, sts, identity, kube), those with checks. */
  readonly links: readonly LinkVerification[];
  /** The verdict line as text and the TUI print it. */
  readonly headline: string;
}

export interface Report {
  readonly schemaVersion: 1;
  readonly tool: { readonly name: 'irsa-doctor'; readonly version: string };
  readonly startedAt: string;
  readonly durationMs: number;
  readonly mechanism: Mechanism;
  readonly verdict: Verdict;
  readonly rootCause: RootCause | null;
  readonly findings: readonly Finding[];
  readonly checks: readonly CheckResult[];
  readonly identity: Identity;
  readonly verification: Verification;
}

/** Fails to compile when a union member is not handled; throws if reached at run time anyway. */
export function assertNever(value: never): never {
  throw new Error(`unhandled value: ${String(value)}`);
}
