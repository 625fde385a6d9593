/**
 * AWS partitions: which partition a region belongs to and the DNS suffix of its endpoints. The prefixes are the
 * webhook's map (docs/mechanics.md 7); the suffixes and region patterns are those of the
 * partitions table the JS SDK resolves endpoints with (@aws-sdk/core util-endpoints partitions.js), which
 * also covers the two partitions the table in docs/mechanics.md 7 leaves out (aws-iso-e, aws-iso-f).
 */
export type Partition =
  'aws' | 'aws-cn' | 'aws-us-gov' | 'aws-iso' | 'aws-iso-b' | 'aws-iso-e' | 'aws-iso-f' | 'aws-eusc';

interface PartitionInfo {
  readonly id: Partition;
  readonly dnsSuffix: string;
  /** Regions this partition owns, e.g. us-gov-west-1 for aws-us-gov. */
  readonly regionPattern: RegExp;
}

// Most specific first: us-gov-/us-iso-/us-isob-/us-isof- must be tried before the catch-all `aws`.
const PARTITIONS: readonly PartitionInfo[] = [
  { id: 'aws-cn', dnsSuffix: 'amazonaws.com.cn', regionPattern: /^cn-\w+-\d+$/ },
  { id: 'aws-us-gov', dnsSuffix: 'amazonaws.com', regionPattern: /^us-gov-\w+-\d+$/ },
  { id: 'aws-iso', dnsSuffix: 'c2s.ic.gov', regionPattern: /^us-iso-\w+-\d+$/ },
  { id: 'aws-iso-b', dnsSuffix: 'sc2s.sgov.gov', regionPattern: /^us-isob-\w+-\d+$/ },
  { id: 'aws-iso-e', dnsSuffix: 'cloud.adc-e.uk', regionPattern: /^eu-isoe-\w+-\d+$/ },
  { id: 'aws-iso-f', dnsSuffix: 'csp.hci.ic.gov', regionPattern: /^us-isof-\w+-\d+$/ },
  { id: 'aws-eusc', dnsSuffix: 'amazonaws.eu', regionPattern: /^eusc-(de)-\w+-\d+$/ },
  { id: 'aws', dnsSuffix: 'amazonaws.com', regionPattern: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/ },
];

const PREFIXES: readonly (readonly [string, Partition])[] = [
  ['cn-', 'aws-cn'],
  ['us-gov-', 'aws-us-gov'],
  ['us-isob-', 'aws-iso-b'],
  ['us-isof-', 'aws-iso-f'],
  ['us-iso-', 'aws-iso'],
  ['eu-isoe-', 'aws-iso-e'],
  ['eusc-', 'aws-eusc'],
];

/** The partition a region belongs to, by prefix; anything unknown is `aws` (what the SDKs fall back to). */
export function partitionOfRegion(region: string): Partition {
  return PREFIXES.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'aws';
}

export function dnsSuffixOf(partition: Partition): string {
  return PARTITIONS.find((p) => p.id === partition)?.dnsSuffix ?? 'amazonaws.com';
}

/** True when the string has the shape of a region of some partition (us-east-1 yes; us-east-1a, EU-WEST-1 no). */
export function looksLikeRegion(region: string): boolean {
  return PARTITIONS.some((p) => p.regionPattern.test(region));
}

/** `https://sts.<region>.<dnsSuffix>`: the regional STS endpoint, e.g. https://sts.cn-north-1.amazonaws.com.cn. */
export function stsRegionalUrl(region: string): string {
  return `https://sts.${region}.${dnsSuffixOf(partitionOfRegion(region))}`;
}

/** The global STS endpoint; it exists only in the `aws` partition (docs/mechanics.md 7). */
export const STS_GLOBAL_URL = 'https://sts.amazonaws.com';
