/**
 * AWS IoT policies: documents checked as AWS checks them, and evaluated as AWS evaluates them
 * (aws-iot-behaviour.md §6.1): explicit Deny wins, default deny, `*`/`?` wildcards in actions and resources
 * (`*` crosses `/`), MQTT `+` and `#` literal in resources, the `$(*)`, `$(?)`, `$($)` escapes, policy
 * variables, and the conditions IoT devices use (`iot:ConnectAttributes`, `aws:SourceIp`).
 *
 * State-free: the endpoint's Authorization (authorization.ts) asks `evaluate()` for each operation.
 */

/** The size AWS allows a policy document: 2048 characters, whitespace not counted (§6.1; limits.policyMaxChars). */
export const MAX_POLICY_CHARS = 2048;

export type Effect = 'Allow' | 'Deny';

/** An AWS IoT policy document as JSON: `{ Version: '2012-10-17', Statement: [{ Effect, Action, Resource, Condition? }] }`. */
export interface PolicyDocument {
  Version: '2012-10-17' | '2008-10-17';
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyStatement {
  Effect: Effect;
  Action: string | string[];
  Resource: string | string[];
  /** Operator → condition key → value(s): `{ StringEquals: { 'iot:ClientId': 'dev-1' } }`. */
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
  Sid?: string;
}

/** A condition block: operator → key → values, as in the JSON. */
type Conditions = Record<string, Record<string, string[]>>;

export interface Statement {
  effect: Effect;
  actions: string[];
  resources: string[];
  conditions: Conditions | undefined;
}

export interface Policy {
  name: string;
  statements: Statement[];
}

/** What an operation is checked with: who asks, from where, and what the connection knows of itself. */
export interface AuthContext {
  clientId: string;
  /** The thing the connection's certificate is attached to, when the client id is that thing's name. */
  thingName?: string;
  thingTypeName?: string;
  thingAttributes?: Record<string, string>;
  /** `iot:Certificate.Subject.CommonName` and the other certificate fields, by their variable name after `iot:Certificate.`. */
  certificate?: Record<string, string>;
  sourceIp?: string;
  /** `PersistentConnect` and/or `LastWill`, for iot:Connect. */
  connectAttributes?: string[];
}

export interface Decision {
  allowed: boolean;
  /** The statement that decided (a Deny, or the first Allow), as `<policy>#<index>`; absent when none matched. */
  statement?: string;
  /** For humans: why, in one line. */
  reason: string;
}

export class PolicyError extends Error {}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** Checks a policy document (JSON text or an object) and returns its statements. Throws PolicyError, saying what is wrong. */
export function parsePolicy(name: string, document: unknown, maxChars = MAX_POLICY_CHARS): Policy {
  let doc = document;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch (error) {
      throw new PolicyError(`policy ${JSON.stringify(name)} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError(`policy ${JSON.stringify(name)} must be a JSON object with Version and Statement`);
  const size = JSON.stringify(doc).replace(/\s/g, '').length;
  if (size > maxChars) throw new PolicyError(`policy ${JSON.stringify(name)} is ${size} characters without whitespace; AWS allows ${maxChars} (limits.policyMaxChars)`);
  const d = doc as Record<string, unknown>;
  if (d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw new PolicyError(`policy ${JSON.stringify(name)}: Version must be "2012-10-17" (got ${JSON.stringify(d.Version)})`);
  if (d.Statement === undefined) throw new PolicyError(`policy ${JSON.stringify(name)} has no Statement`);
  const statements = asList(d.Statement).map((raw, i) => {
    const where = `policy ${JSON.stringify(name)}, Statement[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new PolicyError(`${where} must be an object`);
    const s = raw as Record<string, unknown>;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError(`${where}: Effect must be "Allow" or "Deny" (got ${JSON.stringify(s.Effect)})`);
    const strings = (key: string): string[] => {
      const list = asList(s[key]);
      if (s[key] === undefined || list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0)) throw new PolicyError(`${where}: ${key} must be a string or a list of strings`);
      return list as string[];
    };
    let conditions: Conditions | undefined;
    if (s.Condition !== undefined) {
      if (typeof s.Condition !== 'object' || s.Condition === null) throw new PolicyError(`${where}: Condition must be an object`);
      conditions = {};
      for (const [operator, block] of Object.entries(s.Condition)) {
        if (!(operator in OPERATORS)) throw new PolicyError(`${where}: condition operator ${JSON.stringify(operator)} is not supported (${Object.keys(OPERATORS).join(', ')})`);
        if (typeof block !== 'object' || block === null) throw new PolicyError(`${where}: Condition.${operator} must be an object of keys`);
        conditions[operator] = Object.fromEntries(Object.entries(block).map(([key, values]) => [key, asList(values).map(String)]));
      }
    }
    return { effect: s.Effect, actions: strings('Action'), resources: strings('Resource'), conditions } satisfies Statement;
  });
  return { name, statements };
}

/** A policy pattern (after variables) as a RegExp: `*` any run, `?` one character, `$(*)` `$(?)` `$($)` literal. */
function patternRegExp(pattern: string, caseInsensitive = false): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '$' && pattern[i + 1] === '(' && pattern[i + 3] === ')' && '*?$'.includes(pattern[i + 2]!)) {
      out += `\\${pattern[i + 2]}`;
      i += 3;
    } else if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, caseInsensitive ? 'is' : 's');
}

/**
 * The value of a policy variable for this connection, or undefined when it has none (a statement whose
 * resource names an unknown variable then matches nothing).
 */
function variable(name: string, ctx: AuthContext): string | undefined {
  if (name === 'iot:ClientId') return ctx.clientId;
  if (name === 'aws:SourceIp') return ctx.sourceIp;
  if (name === 'iot:Connection.Thing.ThingName') return ctx.thingName;
  if (name === 'iot:Connection.Thing.ThingTypeName') return ctx.thingTypeName;
  if (name === 'iot:Connection.Thing.IsAttached') return ctx.thingName !== undefined ? 'true' : 'false';
  const attribute = /^iot:Connection\.Thing\.Attributes\[(.+)\]$/.exec(name);
  if (attribute) return ctx.thingAttributes?.[attribute[1]!];
  if (name.startsWith('iot:Certificate.')) return ctx.certificate?.[name.slice('iot:Certificate.'.length)];
  return undefined;
}

/** Substitutes `${...}` variables; undefined when one has no value. */
function substitute(text: string, ctx: AuthContext): string | undefined {
  let missing = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
    const value = variable(name, ctx);
    if (value === undefined) missing = true;
    return value ?? '';
  });
  return missing ? undefined : out;
}

function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const toInt = (a: string) => a.split('.').reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !/^\d+\.\d+\.\d+\.\d+$/.test(base ?? '')) return ip === base;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(base!) & mask);
}

type Operator = (actual: string[] | undefined, expected: string[], ctx: AuthContext) => boolean;
const one = (test: (a: string, e: string) => boolean): Operator => (actual, expected) => actual !== undefined && actual.some((a) => expected.some((e) => test(a, e)));
const like = (a: string, e: string) => patternRegExp(e).test(a);

/** The condition operators devices' policies use. */
const OPERATORS: Record<string, Operator> = {
  StringEquals: one((a, e) => a === e),
  StringNotEquals: (actual, expected) => actual === undefined || !actual.some((a) => expected.includes(a)),
  StringLike: one(like),
  StringNotLike: (actual, expected) => actual === undefined || !actual.some((a) => expected.some((e) => like(a, e))),
  'ForAllValues:StringEquals': (actual, expected) => (actual ?? []).every((a) => expected.includes(a)),
  'ForAnyValue:StringEquals': one((a, e) => a === e),
  IpAddress: one((a, e) => ipInCidr(a, e)),
  NotIpAddress: (actual, expected) => actual !== undefined && !actual.some((a) => expected.some((e) => ipInCidr(a, e))),
  Bool: one((a, e) => a.toLowerCase() === e.toLowerCase()),
};

function conditionKey(key: string, ctx: AuthContext): string[] | undefined {
  if (key === 'iot:ConnectAttributes') return ctx.connectAttributes ?? [];
  if (key === 'aws:SourceIp') return ctx.sourceIp === undefined ? undefined : [ctx.sourceIp];
  if (key === 'iot:ClientId') return [ctx.clientId];
  const value = variable(key, ctx);
  return value === undefined ? undefined : [value];
}

function conditionsHold(conditions: Conditions | undefined, ctx: AuthContext): boolean {
  if (!conditions) return true;
  return Object.entries(conditions).every(([operator, block]) =>
    Object.entries(block).every(([key, values]) => {
      const expected = values.map((v) => substitute(v, ctx)).filter((v): v is string => v !== undefined);
      return OPERATORS[operator]!(conditionKey(key, ctx), expected, ctx);
    }),
  );
}

function statementMatches(s: Statement, action: string, resource: string, ctx: AuthContext): boolean {
  if (!s.actions.some((a) => patternRegExp(a, true).test(action))) return false;
  const resourceMatches = s.resources.some((r) => {
    const concrete = substitute(r, ctx);
    return concrete !== undefined && patternRegExp(concrete).test(resource);
  });
  return resourceMatches && conditionsHold(s.conditions, ctx);
}

/** AWS's evaluation: an explicit Deny wins, then any Allow, else the default deny. */
export function evaluate(policies: readonly Policy[], action: string, resource: string, ctx: AuthContext): Decision {
  let allow: string | undefined;
  for (const policy of policies) {
    for (let i = 0; i < policy.statements.length; i++) {
      const s = policy.statements[i]!;
      if (!statementMatches(s, action, resource, ctx)) continue;
      if (s.effect === 'Deny') return { allowed: false, statement: `${policy.name}#${i}`, reason: `${action} on ${resource} denied by ${policy.name} Statement[${i}]` };
      allow ??= `${policy.name}#${i}`;
    }
  }
  if (allow) return { allowed: true, statement: allow, reason: `${action} on ${resource} allowed by ${allow.replace('#', ' Statement[')}]` };
  return { allowed: false, reason: `${action} on ${resource}: no statement allows it (default deny)` };
}

/** The resource ARN AWS checks an action against (§6.1): `client/<id>`, `topic/<name>`, `topicfilter/<filter>`. */
export function resourceArn(region: string, accountId: string, kind: 'client' | 'topic' | 'topicfilter' | 'thing', name: string): string {
  return `arn:aws:iot:${region}:${accountId}:${kind}/${name}`;
}
