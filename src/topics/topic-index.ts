/**
 * Subscription index: a trie over topic levels, so routing a message costs the depth of its topic,
 * not the number of subscriptions.
 *
 * Matching rules:
 * - `a/#` matches `a/` and `a/b/c`; whether it also matches `a` is the profile's `hashMatchesParent`
 *   (AWS: no; MQTT 3.1.1 §4.7.1.2: yes);
 * - a filter starting with `+` or `#` does not match topics starting with `$` [MQTT-4.7.2-1].
 */
interface Node<S> {
  /** Made with the first child: most nodes (a subscription's last level) have none. */
  children: Map<string, Node<S>> | undefined;
  /** Subscribers whose filter ends at this node, with their granted QoS; made with the first. */
  subs: Map<S, 0 | 1> | undefined;
}

function node<S>(): Node<S> {
  return { children: undefined, subs: undefined };
}

/** Topics whose match results are remembered; the memory is dropped on any subscription change. */
const MATCH_CACHE_SIZE = 10_000;

export interface MatchRules {
  /** Whether `a/#` matches `a`. Default false, as AWS IoT does. */
  hashMatchesParent?: boolean;
}

export class TopicIndex<S> {
  private readonly root: Node<S> = node();
  private readonly hashMatchesParent: boolean;

  constructor(rules: MatchRules = {}) {
    this.hashMatchesParent = rules.hashMatchesParent === true;
  }

  private count = 0;
  /** Recent match results by topic: tests publish to the same few topics over and over. */
  private readonly cache = new Map<string, ReadonlyMap<S, 0 | 1>>();

  get size(): number {
    return this.count;
  }

  add(filter: string, subscriber: S, qos: 0 | 1): void {
    this.cache.clear();
    let n = this.root;
    for (const level of filter.split('/')) {
      const children = (n.children ??= new Map());
      let next = children.get(level);
      if (!next) children.set(level, (next = node()));
      n = next;
    }
    const subs = (n.subs ??= new Map());
    if (!subs.has(subscriber)) this.count++;
    subs.set(subscriber, qos);
  }

  remove(filter: string, subscriber: S): void {
    this.cache.clear();
    const path: Node<S>[] = [this.root];
    const levels = filter.split('/');
    let n = this.root;
    for (const level of levels) {
      const next = n.children?.get(level);
      if (!next) return;
      path.push(next);
      n = next;
    }
    if (n.subs?.delete(subscriber)) this.count--;
    if (n.subs?.size === 0) n.subs = undefined;
    // Prune empty branches.
    for (let i = levels.length; i > 0; i--) {
      const child = path[i]!;
      if (child.subs !== undefined || (child.children !== undefined && child.children.size > 0)) break;
      const parent = path[i - 1]!;
      parent.children!.delete(levels[i - 1]!);
      if (parent.children!.size === 0) parent.children = undefined;
    }
  }

  /** Whether some filter starts with `level` (a topic whose first level has no filter of its own matches nothing but `+`/`#` ones). */
  hasFirstLevel(level: string): boolean {
    return this.root.children?.has(level) === true;
  }

  /** Every subscriber whose filter matches `topic`, each once, with the highest QoS it was granted. Read-only. */
  match(topic: string): ReadonlyMap<S, 0 | 1> {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    const out = new Map<S, 0 | 1>();
    this.walk(this.root, topic.split('/'), 0, topic.charCodeAt(0) === 36 /* $ */, out);
    if (this.cache.size >= MATCH_CACHE_SIZE) this.cache.clear();
    this.cache.set(topic, out);
    return out;
  }

  private walk(n: Node<S>, levels: string[], i: number, dollar: boolean, out: Map<S, 0 | 1>): void {
    if (i === levels.length) {
      collect(n, out);
      // MQTT's rule, switched off for AWS: `a/#` also matches its parent `a`.
      if (this.hashMatchesParent && i > 0) {
        const hash = n.children?.get('#');
        if (hash) collect(hash, out);
      }
      return;
    }
    const children = n.children;
    if (children === undefined) return;
    const wildOk = !(dollar && i === 0);
    if (wildOk) {
      // `#` here covers one more level or more (possibly empty); its parent is handled above.
      const hash = children.get('#');
      if (hash) collect(hash, out);
      const plus = children.get('+');
      if (plus) this.walk(plus, levels, i + 1, dollar, out);
    }
    const exact = children.get(levels[i]!);
    if (exact) this.walk(exact, levels, i + 1, dollar, out);
  }
}

function collect<S>(n: Node<S>, out: Map<S, 0 | 1>): void {
  if (n.subs === undefined) return;
  for (const [s, qos] of n.subs) {
    const had = out.get(s);
    if (had === undefined || qos > had) out.set(s, qos);
  }
}

/** Matchers already built, by their filter list (a profile's lists are shared by every endpoint on it). */
const matchers = new WeakMap<readonly string[], [(topic: string) => boolean, (topic: string) => boolean]>();

/**
 * A fixed set of filters, asked whether a topic matches any of them, by the index's own rules. The list must
 * not change afterwards: the matcher is built once per list and shared.
 */
export function topicMatcher(filters: readonly string[], rules: MatchRules = {}): (topic: string) => boolean {
  let built = matchers.get(filters);
  if (!built) matchers.set(filters, (built = [buildMatcher(filters, false), buildMatcher(filters, true)]));
  return built[rules.hashMatchesParent === true ? 1 : 0];
}

function buildMatcher(filters: readonly string[], hashMatchesParent: boolean): (topic: string) => boolean {
  let index: TopicIndex<true> | undefined;
  return (topic) => {
    if (!index) {
      index = new TopicIndex<true>({ hashMatchesParent });
      for (const f of filters) index.add(f, true, 0);
    }
    return index.match(topic).size > 0;
  };
}
