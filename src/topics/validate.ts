/**
 * Topic names and filters: validation against MQTT 3.1.1 and AWS's limits.
 */
import type { Limits } from '../aws/profile';

export interface TopicProblem {
  rule: string;
  message: string;
  limit?: keyof Limits;
  max?: number;
  actual?: number;
}

/**
 * [MQTT-1.5.3-1] malformed UTF-8 closes the connection. The codec decodes bad sequences to U+FFFD, so a
 * string holding U+FFFD is refused (a client that really sends U+FFFD is refused too: a deliberate trade).
 */
export function hasInvalidUtf8(text: string): boolean {
  return text.includes('\uFFFD');
}

export function invalidUtf8(what: string): TopicProblem {
  return { rule: 'MQTT-1.5.3-1', message: `the ${what} is not valid UTF-8` };
}

const BASIC_INGEST = /^\$aws\/rules\/[^/]+\//;

/**
 * `basicIngestPrefixExempt`: the profile's rule that `$aws/rules/<rule>/` does not count (AWS: it does not).
 * `kind` and `shown` name the string in a problem's message (built only for a problem).
 */
function checkLimits(topic: string, limits: Limits, basicIngestPrefixExempt: boolean, kind: string, shown: string): TopicProblem | undefined {
  const counted = basicIngestPrefixExempt && topic.startsWith('$aws/rules/') ? topic.replace(BASIC_INGEST, '') : topic;
  const bytes = Buffer.byteLength(counted);
  if (bytes > limits.maxTopicBytes) {
    const what = describe(kind, shown);
    return { rule: 'limits.maxTopicBytes', limit: 'maxTopicBytes', max: limits.maxTopicBytes, actual: bytes, message: `${what} is ${bytes} bytes long; AWS allows ${limits.maxTopicBytes}` };
  }
  let slashes = 0;
  for (let i = 0; i < counted.length; i++) if (counted.charCodeAt(i) === 47) slashes++;
  if (slashes > limits.maxTopicSlashes) {
    const what = describe(kind, shown);
    return { rule: 'limits.maxTopicSlashes', limit: 'maxTopicSlashes', max: limits.maxTopicSlashes, actual: slashes, message: `${what} has ${slashes} slashes; AWS allows ${limits.maxTopicSlashes}` };
  }
  return undefined;
}

/** How a problem's message names the topic or filter: its kind and (the first 60 characters of) it, quoted. */
function describe(kind: string, text: string): string {
  return `${kind} ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}`;
}

/** Problems with a topic name a client (or the API) publishes to; undefined when it is fine. */
export function checkTopicName(topic: string, limits: Limits, basicIngestPrefixExempt = true): TopicProblem | undefined {
  if (topic.length === 0) return { rule: 'MQTT-4.7.3-1', message: 'the topic name is empty' };
  // [MQTT-3.3.2-2] a topic name must not contain wildcard characters.
  if (topic.includes('+') || topic.includes('#')) return { rule: 'MQTT-3.3.2-2', message: `topic name ${JSON.stringify(topic)} contains a wildcard` };
  // [MQTT-4.7.3-2] no null character.
  if (topic.includes('\u0000')) return { rule: 'MQTT-4.7.3-2', message: 'the topic name contains U+0000' };
  if (hasInvalidUtf8(topic)) return invalidUtf8('topic name');
  return checkLimits(topic, limits, basicIngestPrefixExempt, 'topic name', topic);
}

/** Problems with a topic filter a client subscribes to; undefined when it is fine. */
export function checkTopicFilter(filter: string, limits: Limits, basicIngestPrefixExempt = true): TopicProblem | undefined {
  if (filter.length === 0) return { rule: 'MQTT-4.7.3-1', message: 'the topic filter is empty' };
  if (filter.includes('\u0000')) return { rule: 'MQTT-4.7.3-2', message: 'the topic filter contains U+0000' };
  if (hasInvalidUtf8(filter)) return invalidUtf8('topic filter');
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    // [MQTT-4.7.1-2] `#` alone in the last level; [MQTT-4.7.1-3] `+` alone in its level.
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return { rule: 'MQTT-4.7.1-2', message: `topic filter ${JSON.stringify(filter)} uses "#" other than as the whole last level` };
    }
    if (level.includes('+') && level !== '+') {
      return { rule: 'MQTT-4.7.1-3', message: `topic filter ${JSON.stringify(filter)} uses "+" other than as a whole level` };
    }
  }
  return checkLimits(filter, limits, basicIngestPrefixExempt, 'topic filter', filter);
}
