/**
 * Shared subscriptions: `$share/{ShareName}/{TopicFilter}` (aws-iot-behaviour.md §1.12; MQTT 5 §4.8.2).
 * AWS: ShareName is non-empty, at most 128 UTF-8 characters (limits.maxShareNameBytes), without `/`, `+` or
 * `#`; TopicFilter follows the normal rules and limits — the `$share/{ShareName}/` prefix does not count
 * toward them. The same `{ShareName}/{TopicFilter}` is the same group.
 */
import type { Limits } from '../aws/profile';
import { type TopicProblem, checkTopicFilter } from './validate';

export const SHARE_PREFIX = '$share/';

export interface SharedFilter {
  shareName: string;
  /** The filter the group's members match topics with. */
  filter: string;
}

/** Whether `filter` is written as a shared subscription (whatever follows the prefix). */
export function isShared(filter: string): boolean {
  return filter.startsWith(SHARE_PREFIX);
}

/** The share name and topic filter of a `$share/...` filter, or a problem with it. */
export function parseShared(full: string, limits: Limits, basicIngestPrefixExempt = true): SharedFilter | TopicProblem {
  const rest = full.slice(SHARE_PREFIX.length);
  const slash = rest.indexOf('/');
  const shareName = slash === -1 ? rest : rest.slice(0, slash);
  const shown = JSON.stringify(full.length > 60 ? `${full.slice(0, 60)}…` : full);
  if (shareName.length === 0) return { rule: 'MQTT-4.8.2-1', message: `shared subscription ${shown} has an empty share name` };
  // [MQTT-4.8.2-2] a share name without `+` and `#` ("/" ends it), followed by "/" and a topic filter.
  if (shareName.includes('+') || shareName.includes('#')) return { rule: 'MQTT-4.8.2-2', message: `shared subscription ${shown}: the share name may not contain "+" or "#"` };
  if (slash === -1 || rest.length === slash + 1) return { rule: 'MQTT-4.8.2-1', message: `shared subscription ${shown} has no topic filter after the share name` };
  const bytes = Buffer.byteLength(shareName);
  if (bytes > limits.maxShareNameBytes) {
    return { rule: 'limits.maxShareNameBytes', limit: 'maxShareNameBytes', max: limits.maxShareNameBytes, actual: bytes, message: `share name is ${bytes} bytes; AWS allows ${limits.maxShareNameBytes}` };
  }
  const filter = rest.slice(slash + 1);
  // AWS: the `$share/{ShareName}/` prefix is not counted toward the topic limits.
  return checkTopicFilter(filter, limits, basicIngestPrefixExempt) ?? { shareName, filter };
}

export function isProblem(value: SharedFilter | TopicProblem): value is TopicProblem {
  return 'rule' in value;
}
