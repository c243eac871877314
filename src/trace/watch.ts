/**
 * Lets test tooling (FAKE_IOT_ARTIFACTS in `fake-aws-iot/jest`) see every endpoint started in this global
 * scope (a Jest test file's), without the endpoints knowing about it. The listeners live on `globalThis`
 * under a registered symbol, so two copies of the package, or modules reloaded by jest.resetModules(),
 * still meet. Nothing is kept unless a listener is installed.
 */
import type { Trace } from './recorder';

/** What a watcher learns of an endpoint. */
export interface WatchedEndpoint {
  readonly trace: Trace;
  readonly seed: number;
  /** Whether close() was called. */
  closed(): boolean;
}

export type EndpointWatcher = (event: { type: 'started'; endpoint: WatchedEndpoint } | { type: 'failed-run'; trace: Trace }) => void;

const KEY = Symbol.for('fake-aws-iot.endpoint-watchers');

function watchers(): Set<EndpointWatcher> | undefined {
  const set = (globalThis as Record<symbol, unknown>)[KEY];
  return set instanceof Set ? (set as Set<EndpointWatcher>) : undefined;
}

function tell(event: Parameters<EndpointWatcher>[0]): void {
  const set = watchers();
  if (!set) return;
  for (const watcher of set) {
    try {
      watcher(event);
    } catch {
      // A watcher's problem is never the endpoint's.
    }
  }
}

/** Called by startFakeIot() with each endpoint it started. */
export function announceEndpoint(endpoint: WatchedEndpoint): void {
  tell({ type: 'started', endpoint });
}

/** Called by assertClientSurvives() for an endpoint whose run failed: the one worth keeping. */
export function announceFailedRun(trace: Trace): void {
  tell({ type: 'failed-run', trace });
}

/** Starts watching; returns the function that stops it. */
export function watchEndpoints(watcher: EndpointWatcher): () => void {
  const g = globalThis as Record<symbol, unknown>;
  const set = watchers() ?? new Set<EndpointWatcher>();
  g[KEY] = set;
  set.add(watcher);
  return () => {
    set.delete(watcher);
  };
}
