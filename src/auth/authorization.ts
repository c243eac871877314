/**
 * The endpoint's IoT policies: which documents exist, which principals they are attached to, and the
 * decisions for one connection (aws-iot-behaviour.md §6.1). The broker holds one only once a policy was
 * configured: an endpoint without policies allows everything and pays nothing for it.
 */
import type { Limits } from '../aws/profile';
import { FakeIotError } from '../errors';
import { type AuthContext, type Decision, type Policy, PolicyError, evaluate, parsePolicy, resourceArn } from './policy';

/** Attach a policy to `'*'` and it applies to every connection, whatever its principal. */
export const EVERY_PRINCIPAL = '*';

/** Decisions a connection remembers before it starts again (topics a device uses are few; a flood is not). */
const MAX_CACHED_DECISIONS = 1024;

export type AuthAction = 'iot:Connect' | 'iot:Publish' | 'iot:RetainPublish' | 'iot:Subscribe' | 'iot:Receive';

/** What a resource of an action is: a client id, a topic name or a topic filter. */
export type ResourceKind = 'client' | 'topic' | 'topicfilter';

/** One connection as the policies see it. */
export interface AuthSubject {
  /** The certificate id (mTLS), access key id (SigV4) or custom authorizer's principalId; undefined on plain TCP. */
  readonly principal: string | undefined;
  /** The policy variables and condition keys of the connection, worked out when first needed. */
  context(): AuthContext;
  /** Policies a custom authorizer returned for this connection, on top of the attached ones. */
  readonly extraPolicies?: readonly Policy[];
  /** Decisions made for this subject under `generation` (kept by the Authorization). */
  cache?: DecisionCache;
}

/** A decision with the ARN it was made for. */
export type CheckedDecision = Decision & { resource: string };

/** Decisions of one subject by action, then by resource name (no string built per check). */
export interface DecisionCache {
  generation: number;
  size: number;
  byAction: Map<AuthAction, Map<string, CheckedDecision>>;
}

export class Authorization {
  private readonly policies = new Map<string, Policy>();
  /** Principal → names of the policies attached to it, in the order they were attached. */
  private readonly attachments = new Map<string, string[]>();
  /** Bumped by every change, so remembered decisions are made again (changing a policy revokes what it allowed). */
  private generation = 0;
  /**
   * Whether a policy was ever configured. Until then only connections that brought policies of their own (a
   * custom authorizer's) are checked: the endpoint exists for the authorizers' sake, and everyone else is allowed.
   */
  private enforcing = false;

  /** Whether the subject's operations are checked at all: once a policy exists, or when it brought policies. */
  applies(subject: AuthSubject): boolean {
    return this.enforcing || subject.extraPolicies !== undefined;
  }

  constructor(
    readonly region: string,
    readonly accountId: string,
    /** AWS's policy limits (§6.1): a document's size, and how many policies one principal may have. */
    private readonly limits: Pick<Limits, 'policyMaxChars' | 'maxPoliciesPerPrincipal'>,
  ) {}

  /**
   * The thing named `thingName` when the certificate `certificateId` is attached to it (its attributes and
   * type, for the `iot:Connection.Thing.*` variables); set by the endpoint when it has a registry.
   */
  attachedThing: ((certificateId: string, thingName: string) => { attributes: Record<string, string>; thingTypeName?: string } | undefined) | undefined;

  /** Creates or replaces a policy (AWS: a new default version). Throws INVALID_POLICY, saying what is wrong. */
  setPolicy(name: unknown, document: unknown, where = 'setPolicy'): void {
    if (typeof name !== 'string' || !/^[\w+=,.@-]{1,128}$/.test(name)) {
      throw new FakeIotError('INVALID_ARGUMENT', `[fake-aws-iot] ${where}: a policy name is 1-128 characters of letters, digits and _+=,.@- as AWS requires (got ${JSON.stringify(name)}).`);
    }
    try {
      this.policies.set(name, parsePolicy(name, document, this.limits.policyMaxChars));
    } catch (error) {
      if (error instanceof PolicyError) throw new FakeIotError('INVALID_POLICY', `[fake-aws-iot] ${where}: ${error.message}`);
      throw error;
    }
    this.enforcing = true;
    this.generation++;
  }

  /** Removes a policy (and detaches it from everyone). */
  deletePolicy(name: string): boolean {
    if (!this.policies.delete(name)) return false;
    for (const [principal, names] of this.attachments) {
      const left = names.filter((n) => n !== name);
      if (left.length > 0) this.attachments.set(principal, left);
      else this.attachments.delete(principal);
    }
    this.generation++;
    return true;
  }

  /** Attaches a policy to a principal (a certificate id, an access key id, a custom authorizer's principalId, or `'*'`). */
  attachPolicy(name: unknown, principal: unknown, where = 'attachPolicy'): void {
    if (typeof name !== 'string' || !this.policies.has(name)) {
      throw new FakeIotError('POLICY_NOT_FOUND', `[fake-aws-iot] ${where}: no policy named ${JSON.stringify(name)} (create it with the policies option or iot.setPolicy()).`);
    }
    if (typeof principal !== 'string' || principal === '') {
      throw new FakeIotError('INVALID_ARGUMENT', `[fake-aws-iot] ${where}: principal must be a certificate id, an access key id, a custom authorizer's principalId, or '*' (got ${JSON.stringify(principal)}).`);
    }
    const names = this.attachments.get(principal) ?? [];
    if (names.includes(name)) return;
    const max = this.limits.maxPoliciesPerPrincipal;
    if (principal !== EVERY_PRINCIPAL && names.length >= max) {
      throw new FakeIotError('LIMIT_EXCEEDED', `[fake-aws-iot] ${where}: ${principal} has ${names.length} policies attached; AWS allows ${max} per principal (limits.maxPoliciesPerPrincipal).`);
    }
    this.attachments.set(principal, [...names, name]);
    this.generation++;
  }

  detachPolicy(name: string, principal: string): boolean {
    const names = this.attachments.get(principal);
    if (!names?.includes(name)) return false;
    const left = names.filter((n) => n !== name);
    if (left.length > 0) this.attachments.set(principal, left);
    else this.attachments.delete(principal);
    this.generation++;
    return true;
  }

  /** The documents of a policy, parsed; undefined when there is none of that name. */
  policy(name: string): Policy | undefined {
    return this.policies.get(name);
  }

  /** The policies that apply to a subject: those attached to its principal, to `'*'`, and any it brought. */
  private policiesOf(subject: AuthSubject): Policy[] {
    const names = [...(subject.principal !== undefined ? this.attachments.get(subject.principal) ?? [] : []), ...(this.attachments.get(EVERY_PRINCIPAL) ?? [])];
    const out = names.map((n) => this.policies.get(n)!);
    if (subject.extraPolicies) out.push(...subject.extraPolicies);
    return out;
  }

  /** The ARN an action is checked against: `arn:aws:iot:<region>:<account>:<kind>/<name>`. */
  arn(kind: ResourceKind, name: string): string {
    return resourceArn(this.region, this.accountId, kind, name);
  }

  /**
   * AWS's decision for one action of a subject. iot:Connect is decided afresh (its conditions depend on the
   * CONNECT); the others are remembered per subject until a policy or an attachment changes.
   */
  check(subject: AuthSubject, action: AuthAction, kind: ResourceKind, name: string): CheckedDecision {
    if (action === 'iot:Connect') {
      const resource = this.arn(kind, name);
      return { ...evaluate(this.policiesOf(subject), action, resource, subject.context()), resource };
    }
    // Each action has one resource kind, so the name alone keys a decision within an action.
    let cache = subject.cache;
    if (cache === undefined || cache.generation !== this.generation || cache.size >= MAX_CACHED_DECISIONS) {
      cache = subject.cache = { generation: this.generation, size: 0, byAction: new Map() };
    }
    let decisions = cache.byAction.get(action);
    if (decisions === undefined) cache.byAction.set(action, (decisions = new Map()));
    let decision = decisions.get(name);
    if (decision === undefined) {
      const resource = this.arn(kind, name);
      decision = { ...evaluate(this.policiesOf(subject), action, resource, subject.context()), resource };
      decisions.set(name, decision);
      cache.size++;
    }
    return decision;
  }
}
