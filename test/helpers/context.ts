import type { Context, Env, RunOptions } from '../../src/context/context';
import { DEFAULT_OPTIONS } from '../../src/context/context';
import { createFileView } from '../../src/context/files';
import type { PeerContainer } from '../../src/context/peers';
import type { NetClient } from '../../src/aws/http';
import { createNetClient } from '../../src/aws/http';

export interface FixtureContextInit extends Partial<RunOptions> {
  env?: Env;
  /** A directory standing in for the container's filesystem root. */
  root?: string;
  now?: number;
  uid?: number;
  gid?: number;
  groups?: number[];
  peers?: PeerContainer[];
  /** Defaults to the real client: tests point it at servers on 127.0.0.1:0 through env URLs. */
  net?: NetClient;
  /** The tool's own filesystem for command-line files (--trust-policy); defaults to the real one. */
  localRoot?: string;
}

/** A Context over fixture env and a fixture root: no check in a test reads the real process env or /. */
export function fixtureContext(init: FixtureContextInit = {}): Context {
  const {
    env = {},
    root = '/nonexistent-fixture-root',
    now,
    uid = 1000,
    gid = 1000,
    groups = [1000],
    peers = [],
    net = createNetClient(),
    localRoot = '/',
    ...options
  } = init;
  return {
    env,
    files: createFileView(root),
    clock: { now: () => now ?? Date.now() },
    user: { uid, gid, groups },
    options: { ...DEFAULT_OPTIONS, ...options },
    peers: async () => peers,
    net,
    localFiles: createFileView(localRoot),
  };
}
