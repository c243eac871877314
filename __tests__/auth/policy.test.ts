/**
 * The IoT policy evaluator on its own (aws-iot-behaviour.md §6.1): documents checked like AWS, explicit Deny
 * wins, default deny, wildcards and escapes, literal MQTT wildcards, policy variables and conditions.
 */
import { MAX_POLICY_CHARS, PolicyError, evaluate, parsePolicy, resourceArn } from '../../src/auth/policy';

const ARN = 'arn:aws:iot:us-east-1:123456789012';
const arn = (kind: 'client' | 'topic' | 'topicfilter', name: string) => resourceArn('us-east-1', '123456789012', kind, name);
const policy = (statements: object[], name = 'p') => parsePolicy(name, { Version: '2012-10-17', Statement: statements });
const allow = (Action: string | string[], Resource: string | string[], extra = {}) => ({ Effect: 'Allow', Action, Resource, ...extra });
const deny = (Action: string | string[], Resource: string | string[]) => ({ Effect: 'Deny', Action, Resource });
const ctx = { clientId: 'dev-1' };

describe('documents', () => {
  test.each([
    ['not JSON', '{', /not valid JSON/],
    ['no Version', { Statement: [] }, /Version must be "2012-10-17"/],
    ['no Statement', { Version: '2012-10-17' }, /has no Statement/],
    ['a bad Effect', { Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'iot:*', Resource: '*' }] }, /Effect must be "Allow" or "Deny"/],
    ['no Resource', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*' }] }, /Resource must be a string or a list of strings/],
    ['an unknown condition operator', { Version: '2012-10-17', Statement: [allow('iot:*', '*', { Condition: { NumericEquals: { x: '1' } } })] }, /condition operator "NumericEquals" is not supported/],
    ['over 2048 characters', { Version: '2012-10-17', Statement: [allow('iot:Publish', Array.from({ length: 40 }, (_, i) => `${ARN}:topic/a-long-topic-name-number-${i}`))] }, new RegExp(`AWS allows ${MAX_POLICY_CHARS}`)],
  ])('%s is refused, saying why', (_what, document, message) => {
    expect(() => parsePolicy('p', document)).toThrow(PolicyError);
    expect(() => parsePolicy('p', document)).toThrow(message);
  });

  test('whitespace does not count toward the size; a single Statement object is accepted', () => {
    const spaced = JSON.stringify({ Version: '2012-10-17', Statement: allow('iot:Connect', '*') }).replace(/,/g, `,${' '.repeat(800)}`);
    expect(spaced.length).toBeGreaterThan(MAX_POLICY_CHARS);
    expect(parsePolicy('p', spaced).statements).toHaveLength(1);
  });
});

describe('evaluation', () => {
  test('default deny; an Allow allows; an explicit Deny wins over any Allow, in any policy', () => {
    expect(evaluate([], 'iot:Connect', arn('client', 'dev-1'), ctx)).toMatchObject({ allowed: false, reason: expect.stringContaining('no statement allows it') });
    const open = policy([allow('iot:*', '*')], 'open');
    expect(evaluate([open], 'iot:Publish', arn('topic', 'a/b'), ctx)).toMatchObject({ allowed: true, statement: 'open#0' });
    const shut = policy([deny('iot:Publish', `${ARN}:topic/a/*`)], 'shut');
    expect(evaluate([open, shut], 'iot:Publish', arn('topic', 'a/b'), ctx)).toMatchObject({ allowed: false, statement: 'shut#0' });
    expect(evaluate([open, shut], 'iot:Publish', arn('topic', 'b/a'), ctx)).toMatchObject({ allowed: true });
  });

  test('`*` crosses `/`, `?` is one character, actions are case-insensitive', () => {
    const p = policy([allow('IOT:publish', [`${ARN}:topic/dt/*`, `${ARN}:topic/cmd/dev-?`])]);
    expect(evaluate([p], 'iot:Publish', arn('topic', 'dt/a/b/c'), ctx).allowed).toBe(true);
    expect(evaluate([p], 'iot:Publish', arn('topic', 'cmd/dev-1'), ctx).allowed).toBe(true);
    expect(evaluate([p], 'iot:Publish', arn('topic', 'cmd/dev-10'), ctx).allowed).toBe(false);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'dt/a'), ctx).allowed).toBe(false);
  });

  test('MQTT `+` and `#` in a resource are literal characters; `$(*)` is a literal star', () => {
    const p = policy([allow('iot:Subscribe', [`${ARN}:topicfilter/some/+/topic`, `${ARN}:topicfilter/odd/$(*)`])]);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'some/+/topic'), ctx).allowed).toBe(true);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'some/x/topic'), ctx).allowed).toBe(false);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'odd/*'), ctx).allowed).toBe(true);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'odd/x'), ctx).allowed).toBe(false);
  });

  test('policy variables: client id, thing name and attributes, certificate fields; an unknown variable matches nothing', () => {
    const p = policy([
      allow('iot:Connect', `${ARN}:client/\${iot:Connection.Thing.ThingName}`),
      allow('iot:Publish', [`${ARN}:topic/dt/\${iot:ClientId}/*`, `${ARN}:topic/site/\${iot:Connection.Thing.Attributes[site]}`, `${ARN}:topic/cn/\${iot:Certificate.Subject.CommonName}`]),
    ]);
    const thing = { clientId: 'dev-1', thingName: 'dev-1', thingAttributes: { site: 'north' }, certificate: { 'Subject.CommonName': 'dev-1.example' } };
    expect(evaluate([p], 'iot:Connect', arn('client', 'dev-1'), thing).allowed).toBe(true);
    expect(evaluate([p], 'iot:Connect', arn('client', 'dev-1'), { clientId: 'dev-1' }).allowed).toBe(false); // no thing attached
    expect(evaluate([p], 'iot:Publish', arn('topic', 'dt/dev-1/temp'), thing).allowed).toBe(true);
    expect(evaluate([p], 'iot:Publish', arn('topic', 'dt/dev-2/temp'), thing).allowed).toBe(false);
    expect(evaluate([p], 'iot:Publish', arn('topic', 'site/north'), thing).allowed).toBe(true);
    expect(evaluate([p], 'iot:Publish', arn('topic', 'cn/dev-1.example'), thing).allowed).toBe(true);
  });

  test('the documented pitfall: a client id of "+" widens a ${iot:ClientId} topic-filter grant', () => {
    const p = policy([allow('iot:Subscribe', `${ARN}:topicfilter/my/\${iot:ClientId}/topic`)]);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'my/+/topic'), { clientId: 'dev-1' }).allowed).toBe(false);
    expect(evaluate([p], 'iot:Subscribe', arn('topicfilter', 'my/+/topic'), { clientId: '+' }).allowed).toBe(true);
  });

  test('conditions: iot:ConnectAttributes (PersistentConnect, LastWill) and aws:SourceIp', () => {
    const p = policy([
      allow('iot:Connect', '*', { Condition: { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] }, IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }),
    ]);
    const at = (connectAttributes: string[], sourceIp = '127.0.0.1') => evaluate([p], 'iot:Connect', arn('client', 'dev-1'), { clientId: 'dev-1', connectAttributes, sourceIp }).allowed;
    expect(at([])).toBe(true);
    expect(at(['PersistentConnect'])).toBe(true);
    expect(at(['PersistentConnect', 'LastWill'])).toBe(false); // a will needs LastWill allowed too
    expect(at([], '10.0.0.1')).toBe(false);
  });
});
