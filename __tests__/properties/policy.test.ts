/**
 * The policy evaluator against a small independent model (aws-iot-behaviour.md §6.1), on random policies,
 * topics and client ids: the model matches wildcards by backtracking over characters rather than through a
 * RegExp, substitutes `${iot:ClientId}` itself, and decides "any Deny, else any Allow, else deny".
 */
import fc from 'fast-check';
import { evaluate, parsePolicy, resourceArn } from '../../src/auth/policy';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const PREFIX = `arn:aws:iot:${REGION}:${ACCOUNT}:`;
const ACTIONS = ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'] as const;

/** Matches `text` against a policy pattern: `*` any run (also across `/`), `?` one character, `$(*)`/`$(?)`/`$($)` literal. */
function globMatch(pattern: string, text: string): boolean {
  // Tokenise: wildcard or literal character.
  const tokens: ({ any: true } | { one: true } | { lit: string })[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '$' && pattern[i + 1] === '(' && pattern[i + 3] === ')' && '*?$'.includes(pattern[i + 2]!)) {
      tokens.push({ lit: pattern[i + 2]! });
      i += 3;
    } else if (c === '*') tokens.push({ any: true });
    else if (c === '?') tokens.push({ one: true });
    else tokens.push({ lit: c });
  }
  const memo = new Map<string, boolean>();
  const go = (t: number, s: number): boolean => {
    const key = `${t},${s}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (t === tokens.length) result = s === text.length;
    else {
      const token = tokens[t]!;
      if ('any' in token) result = go(t + 1, s) || (s < text.length && go(t, s + 1));
      else if ('one' in token) result = s < text.length && go(t + 1, s + 1);
      else result = s < text.length && text[s] === token.lit && go(t + 1, s + 1);
    }
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

interface ModelStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
}

function model(statements: ModelStatement[], action: string, resource: string, clientId: string): boolean {
  const applies = (s: ModelStatement) =>
    s.actions.some((a) => globMatch(a.toLowerCase(), action.toLowerCase())) &&
    s.resources.some((r) => globMatch(r.split('${iot:ClientId}').join(clientId), resource));
  if (statements.some((s) => s.effect === 'Deny' && applies(s))) return false;
  return statements.some((s) => s.effect === 'Allow' && applies(s));
}

// Small alphabets, so that random patterns and names meet often.
const nameChar = fc.constantFrom('a', 'b', '/', '+', '#', '$', '.');
const name = fc.string({ unit: nameChar, minLength: 0, maxLength: 6 });
const patternPart = fc.oneof(
  { weight: 4, arbitrary: nameChar },
  { weight: 1, arbitrary: fc.constantFrom('*', '?', '$(*)', '$(?)', '${iot:ClientId}') },
);
const pattern = fc.array(patternPart, { maxLength: 6 }).map((parts) => parts.join(''));
const kind = fc.constantFrom('client', 'topic', 'topicfilter');
const resourcePattern = fc.oneof(
  { weight: 1, arbitrary: fc.constant('*') },
  { weight: 4, arbitrary: fc.tuple(kind, pattern).map(([k, p]) => `${PREFIX}${k}/${p}`) },
);
const statement = fc.record({
  effect: fc.constantFrom('Allow' as const, 'Deny' as const),
  actions: fc.array(fc.oneof(fc.constantFrom(...ACTIONS), fc.constantFrom('iot:*', 'IOT:publish', 'iot:?ubscribe')), { minLength: 1, maxLength: 2 }),
  resources: fc.array(resourcePattern, { minLength: 1, maxLength: 3 }),
});

test('evaluate() agrees with the model on random policies, resources and client ids', () => {
  fc.assert(
    fc.property(fc.array(statement, { minLength: 0, maxLength: 4 }), fc.constantFrom(...ACTIONS), kind, name, fc.oneof(name, fc.constant('+')), (statements, action, k, resourceName, clientId) => {
      const parsed = statements.length === 0 ? [] : [parsePolicy('p', { Version: '2012-10-17', Statement: statements.map((s) => ({ Effect: s.effect, Action: s.actions, Resource: s.resources })) })];
      const resource = resourceArn(REGION, ACCOUNT, k, resourceName);
      expect(evaluate(parsed, action, resource, { clientId }).allowed).toBe(model(statements, action, resource, clientId));
    }),
    { seed: 20261130, numRuns: 2000 },
  );
});
