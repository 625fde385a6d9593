/**
 * The shape check of every object the Kubernetes API answers, before client-node or the checks see it. The
 * API server is outside input: an `env` that is a string, `containers` that is an object or a `null` where
 * a list belongs would otherwise surface as a JS error from deep inside client-node's deserializer or the
 * mutation analysis ("number is not iterable"). Types come from client-node's own model metadata (each
 * generated class lists its attributes and their types: `Array<V1EnvVar>`, `{ [key: string]: string; }`,
 * `Date`, ...), so every field of every object is checked the way client-node is about to read it.
 */

/** What client-node's generated models expose: the attribute table of a class. */
interface ModelClass {
  getAttributeTypeMap(): readonly { readonly name: string; readonly baseName: string; readonly type: string }[];
}

export type ModelLookup = (typeName: string) => ModelClass | undefined;

/**
 * Fields the analysis relies on that the Kubernetes API marks required (a container without a name is not a
 * container): a missing one is as unexpected as a wrong type. From the API reference (core/v1, meta/v1).
 */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  V1PodSpec: ['containers'],
  V1Container: ['name'],
  V1EphemeralContainer: ['name'],
  V1EnvVar: ['name'],
  V1VolumeMount: ['name', 'mountPath'],
  V1Volume: ['name'],
  V1OwnerReference: ['kind', 'name'],
  V1ServiceAccountTokenProjection: ['path'],
  V1MutatingWebhook: ['name', 'clientConfig'],
};

/** Walking stops here: no real object is this deep or this wide, and a hostile one must not cost more. */
const MAX_DEPTH = 40;
const MAX_NODES = 200_000;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)})`;
    case 'number':
      return `a number (${value})`;
    case 'boolean':
      return `a boolean (${value})`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function expectedWords(type: string): string {
  if (type.startsWith('Array<')) return 'a list';
  if (type.startsWith('{ [key: string]: ')) return 'an object (a map)';
  switch (type) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'Date':
      return 'a date string';
    case 'IntOrString':
      return 'a number or a string';
    default:
      return 'an object';
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Why `data` is not an object of `type` (a client-node model name such as V1Pod), as "spec.containers is an
 * object, not a list"; undefined when it is one. `null` stands for an absent field, as client-node reads it.
 */
export function shapeProblem(data: unknown, type: string, lookup: ModelLookup): string | undefined {
  let nodes = 0;
  const walk = (value: unknown, rawType: string, path: string, depth: number, item = false): string | undefined => {
    if (++nodes > MAX_NODES) return `${path || 'the object'} is larger than any Kubernetes object`;
    if (depth > MAX_DEPTH) return `${path || 'the object'} is nested deeper than any Kubernetes object`;
    // A field may be null (absent); an item of a list or a map may not: the API never sends one.
    if (value === undefined || value === null) return item ? `${path} is ${describe(value)}` : undefined;
    const type = rawType.replace(/ \| (?:null|undefined)$/, '');
    const wrong = () => `${path || 'the object'} is ${describe(value)}, not ${expectedWords(type)}`;
    if (type.startsWith('Array<')) {
      if (!Array.isArray(value)) return wrong();
      const inner = type.slice('Array<'.length, -1);
      for (let i = 0; i < value.length; i++) {
        const problem = walk(value[i], inner, `${path}[${i}]`, depth + 1, true);
        if (problem) return problem;
      }
      return undefined;
    }
    if (type.startsWith('{ [key: string]: ')) {
      if (!isPlainObject(value)) return wrong();
      const inner = type.slice('{ [key: string]: '.length, -'; }'.length);
      for (const [key, v] of Object.entries(value)) {
        const problem = walk(v, inner, `${path}[${JSON.stringify(key.slice(0, 60))}]`, depth + 1, true);
        if (problem) return problem;
      }
      return undefined;
    }
    switch (type) {
      case 'any':
      case 'object':
        return undefined;
      case 'string':
        return typeof value === 'string' ? undefined : wrong();
      case 'number':
        return typeof value === 'number' ? undefined : wrong();
      case 'boolean':
        return typeof value === 'boolean' ? undefined : wrong();
      case 'IntOrString':
        return typeof value === 'string' || typeof value === 'number' ? undefined : wrong();
      case 'Date':
        return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? undefined : wrong();
    }
    const model = lookup(type);
    if (!model) return undefined; // a type client-node does not describe: it passes the value through
    if (!isPlainObject(value)) return wrong();
    for (const required of REQUIRED[type] ?? []) {
      if (value[required] === undefined || value[required] === null) {
        return `${path ? `${path}.` : ''}${required} is missing`;
      }
    }
    for (const attribute of model.getAttributeTypeMap()) {
      const problem = walk(
        value[attribute.baseName],
        attribute.type,
        path ? `${path}.${attribute.baseName}` : attribute.baseName,
        depth + 1,
      );
      if (problem) return problem;
    }
    return undefined;
  };
  return walk(data, type, '', 0);
}
