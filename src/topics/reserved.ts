/**
 * AWS's reserved topics: everything that starts with `$` is AWS's, and a client may only publish or
 * subscribe where AWS allows (aws-iot-behaviour.md §3.1). The allowed places are profile data, written as
 * topic filters. A topic name is checked with the subscription index's own matcher (`topicMatcher`); a
 * subscription's filter with `filterAllowed` below.
 */

/** Whether every topic `filter` can match is one of the places `allowed` describes. */
export function filterAllowed(filter: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) => filterWithin(filter.split('/'), pattern.split('/')));
}

function filterWithin(filter: string[], pattern: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '#') return i < filter.length;
    if (i >= filter.length) return false;
    const f = filter[i]!;
    if (f === '#') return false; // reaches further than the pattern does
    if (p !== '+' && p !== f) return false; // `+` in the filter is within `+` only
  }
  return filter.length === pattern.length;
}

/** `$aws/rules/<rule>/...`: the rule's name and the topic the rule sees (without the prefix), or undefined. */
export function basicIngest(topic: string): { ruleName: string; topic: string } | undefined {
  if (!topic.startsWith('$aws/rules/')) return undefined;
  const rest = topic.slice('$aws/rules/'.length);
  const slash = rest.indexOf('/');
  return slash === -1 ? { ruleName: rest, topic: '' } : { ruleName: rest.slice(0, slash), topic: rest.slice(slash + 1) };
}
