/** An IAM role ARN taken apart: arn:PARTITION:iam::ACCOUNT:role/PATH/NAME. */
export interface RoleArn {
  readonly arn: string;
  readonly partition: string;
  readonly account: string;
  /** "/" or "/team/x/": the path between role/ and the name, with its slashes. */
  readonly path: string;
  readonly name: string;
}

/**
 * The webhook's own pattern (docs/mechanics.md 1.1) with the name rules of IAM: names are 1-64 of
 * [\w+=,.@-], paths are "/" or "/.../" of printable ASCII.
 */
const ROLE_ARN = /^arn:(aws[a-z0-9-]*):iam::(\d{12}):role(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,64})$/;

export function parseRoleArn(value: string): RoleArn | undefined {
  const match = ROLE_ARN.exec(value);
  if (!match) return undefined;
  const [, partition = '', account = '', path = '/', name = ''] = match;
  return { arn: value, partition, account, path, name };
}

/** An STS assumed-role ARN: arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION (the role path is dropped). */
export interface AssumedRoleArn {
  readonly arn: string;
  readonly partition: string;
  readonly account: string;
  readonly roleName: string;
  readonly sessionName: string;
}

const ASSUMED_ROLE_ARN = /^arn:(aws[a-z0-9-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]+)$/;

export function parseAssumedRoleArn(value: string): AssumedRoleArn | undefined {
  const match = ASSUMED_ROLE_ARN.exec(value);
  if (!match) return undefined;
  const [, partition = '', account = '', roleName = '', sessionName = ''] = match;
  return { arn: value, partition, account, roleName, sessionName };
}
