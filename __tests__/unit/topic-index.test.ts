import { classicProfile } from '../../src/aws/profile';
import { TopicIndex } from '../../src/topics/topic-index';
import { checkTopicFilter, checkTopicName } from '../../src/topics/validate';

// Table-driven: [filter, topic, matches?] — AWS IoT's rules (see the README's behaviour table).
const cases: [string, string, boolean][] = [
  ['a/b', 'a/b', true],
  ['a/b', 'a/c', false],
  ['a/b', 'a/b/c', false],
  ['a/+', 'a/b', true],
  ['a/+', 'a/', true],
  ['a/+', 'a', false],
  ['a/+', 'a/b/c', false],
  ['+/+', 'a/b', true],
  ['+', 'a', true],
  ['+', '/a', false],
  ['+/a', '/a', true],
  ['a/#', 'a', false], // AWS deviation: MQTT would match
  ['a/#', 'a/', true],
  ['a/#', 'a/b/c', true],
  ['#', 'a/b', true],
  ['#', '/', true],
  ['#', '$aws/x', false],
  ['+/x', '$aws/x', false],
  ['$aws/#', '$aws/x', true],
  ['$aws/+/y', '$aws/x/y', true],
  ['a/+/#', 'a/b', false],
  ['a/+/#', 'a/b/c', true],
  ['A/b', 'a/b', false], // case-sensitive
];

describe('TopicIndex', () => {
  test.each(cases)('filter %j against topic %j → %s', (filter, topic, expected) => {
    const index = new TopicIndex<string>();
    index.add(filter, 's', 1);
    expect(index.match(topic).has('s')).toBe(expected);
  });

  test('one subscriber with several matching filters is listed once, with its highest QoS', () => {
    const index = new TopicIndex<string>();
    index.add('a/+', 's', 0);
    index.add('a/#', 's', 1);
    index.add('a/b', 't', 0);
    expect([...index.match('a/b')]).toEqual([['s', 1], ['t', 0]]);
  });

  test('remove() forgets the subscription and prunes empty branches', () => {
    const index = new TopicIndex<string>();
    index.add('a/b/c', 's', 1);
    index.add('a/b/c', 't', 1);
    index.remove('a/b/c', 's');
    expect([...index.match('a/b/c').keys()]).toEqual(['t']);
    index.remove('a/b/c', 't');
    index.remove('never/added', 't');
    expect(index.size).toBe(0);
    expect(index.match('a/b/c').size).toBe(0);
  });
});

describe('topic validation', () => {
  const limits = classicProfile.limits;
  test.each([
    ['', 'MQTT-4.7.3-1'],
    ['a/+', 'MQTT-3.3.2-2'],
    ['a/#', 'MQTT-3.3.2-2'],
    ['a\u0000b', 'MQTT-4.7.3-2'],
    ['x'.repeat(257), 'limits.maxTopicBytes'],
    ['é'.repeat(129), 'limits.maxTopicBytes'], // 258 UTF-8 bytes
    ['1/2/3/4/5/6/7/8/9', 'limits.maxTopicSlashes'],
  ])('topic name %j is refused (%s)', (topic, rule) => {
    expect(checkTopicName(topic, limits)?.rule).toBe(rule);
  });

  test.each(['a', 'a/b/c', '/', 'x'.repeat(256), '1/2/3/4/5/6/7/8', '$aws/rules/r/1/2/3/4/5/6/7/8'])('topic name %j is fine', (topic) => {
    expect(checkTopicName(topic, limits)).toBeUndefined();
  });

  test.each([
    ['a/#/b', 'MQTT-4.7.1-2'],
    ['a#', 'MQTT-4.7.1-2'],
    ['a+/b', 'MQTT-4.7.1-3'],
    ['', 'MQTT-4.7.3-1'],
  ])('filter %j is refused (%s)', (filter, rule) => {
    expect(checkTopicFilter(filter, limits)?.rule).toBe(rule);
  });

  test.each(['#', '+', '+/+/#', 'a/+/c', '$aws/things/+/shadow/#'])('filter %j is fine', (filter) => {
    expect(checkTopicFilter(filter, limits)).toBeUndefined();
  });
});
