import type { Packet } from '../codec/codec';
import type { ChaosTag } from '../chaos/types';
import type { TraceEntry } from './entry';

function preview(payload: Buffer | string | undefined, max = 40): string {
  if (payload === undefined) return '';
  const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const text = buf.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(buf) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  const shown = printable ? JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text) : `0x${buf.subarray(0, max / 2).toString('hex')}${buf.length > max / 2 ? '…' : ''}`;
  return `${shown} (${buf.length} B)`;
}

/** One line for a packet: type, then the fields a reader needs. */
export function formatPacket(p: Packet): string {
  const name = p.cmd.toUpperCase();
  switch (p.cmd) {
    case 'connect':
      return `${name} clientId=${JSON.stringify(p.clientId)} clean=${p.clean ? 1 : 0} keepalive=${p.keepalive ?? 0}` +
        `${p.protocolVersion !== 4 ? ` level=${p.protocolVersion}` : ''}${p.will ? ` will=${p.will.topic} q${p.will.qos ?? 0}${p.will.retain ? ' retain' : ''}` : ''}`;
    case 'connack':
      return `${name} rc=${p.returnCode ?? p.reasonCode} sessionPresent=${p.sessionPresent ? 1 : 0}`;
    case 'publish':
      return `${name} ${p.topic} q${p.qos}${p.qos > 0 ? ` id=${p.messageId}` : ''}${p.dup ? ' DUP' : ''}${p.retain ? ' RETAIN' : ''} ${preview(p.payload)}`;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return `${name} id=${p.messageId}`;
    case 'subscribe':
      return `${name} id=${p.messageId} ${p.subscriptions.map((s) => `${s.topic} q${s.qos}`).join(', ')}`;
    case 'suback':
      return `${name} id=${p.messageId} granted=[${(p.granted as unknown[]).map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)).join(',')}]`;
    case 'unsubscribe':
      return `${name} id=${p.messageId} ${p.unsubscriptions.join(', ')}`;
    default:
      return name;
  }
}

/** `  [chaos reorder #3 held 12ms]`: the fault, the decision's number (see iot.chaos.droppedDecisions), and what it did. */
function formatTag(tag: ChaosTag | undefined): string {
  if (!tag) return '';
  const parts = [`chaos ${tag.fault}`];
  if (tag.decision !== undefined) parts.push(`#${tag.decision}`);
  if (tag.of !== undefined) parts.push(`copy of #${tag.of}`);
  if (tag.heldMs !== undefined) parts.push(`held ${tag.heldMs}ms`);
  return `  [${parts.join(' ')}]`;
}

export function formatEntry(e: TraceEntry, t0: number): string {
  const head = `#${String(e.seq).padEnd(4)} +${String(e.at - t0).padStart(5)}ms ${e.connectionId !== undefined ? `c${e.connectionId}`.padEnd(4) : '    '} ${(e.clientId ?? '-').padEnd(12)}`;
  if (e.kind === 'packet') return `${head} ${e.direction === 'in' ? 'in ' : 'out'} ${describeEntry(e)}`;
  return `${head} *** ${describeEntry(e)}`;
}

/**
 * What an entry says, without the line head (seq, time, connection, client) or the direction: a packet's
 * `formatPacket()` line with its chaos tag, an event's summary (`disconnect CLIENT_ERROR`).
 */
export function describeEntry(e: TraceEntry): string {
  const cut = e.truncated ? ` [payload of ${e.truncated.payloadBytes} B cut by trace.maxBytes]` : '';
  if (e.kind === 'packet') return `${formatPacket(e.packet)}${cut}${formatTag(e.chaos)}`;
  switch (e.event) {
    case 'connect':
      return `connect clean=${e.cleanSession ? 1 : 0} sessionPresent=${e.sessionPresent ? 1 : 0} keepAlive=${e.keepAliveSeconds}s` +
        `${e.transport && e.transport !== 'tcp' ? ` ${e.transport}` : ''}${e.principal ? ` principal=${e.principal.length > 16 ? `${e.principal.slice(0, 12)}…` : e.principal}` : ''}${e.authorizer ? ` authorizer=${e.authorizer}` : ''}${e.thingName ? ` thing=${e.thingName}` : ''}`;
    case 'disconnect':
      return `disconnect ${e.reason}${e.willPublished ? ' (will published)' : ''}${formatTag(e.chaos)}`;
    case 'subscription-active':
      return `subscription active ${e.topic} q${e.qos}${e.delayedMs ? ` after ${e.delayedMs}ms` : ''}${formatTag(e.chaos)}`;
    case 'violation':
      return `violation ${e.rule}: ${e.message}`;
    case 'ignored':
      return `ignored ${e.rule}: ${e.message}`;
    case 'publish':
      return `${e.origin} publish ${e.topic} q${e.qos} ${preview(e.payload)}${cut}`;
    case 'session-ended':
      return `session ${e.reason}`;
    case 'dropped':
      return `dropped ${e.topic} (${e.reason})${e.shareGroup ? ` for ${e.shareGroup}` : ''}`;
    case 'retained-stored':
      return `retained ${e.replaced ? 'replaced' : 'stored'} ${e.topic} q${e.qos} ${e.payloadBytes} B (${e.origin}; ${e.count} stored, ${e.bytes} B)`;
    case 'retained-deleted':
      return `retained deleted ${e.topic} (${e.origin}; ${e.count} stored, ${e.bytes} B)`;
    case 'shadow':
      return `shadow ${e.thingName}${e.shadowName !== undefined ? `/${e.shadowName}` : ''} ${e.operation} ${e.outcome}${e.code !== undefined ? ` ${e.code}` : ''}${e.version !== undefined ? ` v${e.version}` : ''}${formatTag(e.chaos)}`;
    case 'job':
      return `job ${e.thingName}${e.jobId !== undefined ? ` ${e.jobId}` : ''} ${e.operation} (${e.via}) ${e.outcome === 'rejected' ? `rejected ${e.code}` : `${e.previousStatus !== undefined ? `${e.previousStatus} → ` : ''}${e.status}${e.deleted ? ' deleted' : ''} v${e.versionNumber}`}${formatTag(e.chaos)}`;
    case 'throttled':
      return `throttled ${e.limit} ${e.direction} ${e.action}${e.topic !== undefined ? ` ${e.topic}` : ''}${e.delayedMs ? ` ${e.delayedMs}ms` : ''}`;
    case 'rule':
      return `rule ${e.ruleName} ${e.topic} q${e.qos} ${preview(e.payload)}`;
    case 'authorization':
      return `denied (${e.reaction}) ${e.reason}`;
    case 'authorizer':
      return `authorizer ${e.authorizer ?? '(none)'}${e.refresh ? ' refresh' : ''} ${e.isAuthenticated ? `authenticated ${e.principalId}` : 'refused'} in ${e.durationMs}ms${e.error ? `: ${e.error}` : ''}`;
    case 'internal-error':
      return `internal error (${e.source}): ${e.message}`;
    case 'transport-error':
      return `${e.transport} refused ${e.remoteAddress}${e.remotePort !== undefined ? `:${e.remotePort}` : ''} ${e.reason}${e.code ? ` (${e.code})` : ''}: ${e.message}`;
  }
}

/**
 * What traces written for people show of a CONNECT password: `<N bytes redacted>`. A password that already
 * reads so (a trace read back from JSON lines) stays as it is.
 */
export function redactedPassword(password: Buffer | Uint8Array | string): string {
  const text = Buffer.from(password).toString();
  return /^<\d+ bytes redacted>$/.test(text) ? text : `<${Buffer.byteLength(password)} bytes redacted>`;
}

/** The JSON text of an entry's plain-JSON form (see entryToJSON). */
export function entryJSONText(e: TraceEntry): string {
  const { seq, at, ...rest } = e;
  return JSON.stringify({ seq, at, ...rest }, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (key === 'password' && raw !== undefined && raw !== null) return redactedPassword(raw as Buffer | string);
    if (raw instanceof Uint8Array) {
      const buf = Buffer.from(raw);
      const text = buf.toString('utf8');
      return Buffer.from(text, 'utf8').equals(buf) ? text : { base64: buf.toString('base64') };
    }
    return value;
  });
}

/** Plain-JSON form of an entry: payloads as UTF-8 text (or `{ base64 }`), passwords redacted. */
export function entryToJSON(e: TraceEntry): Record<string, unknown> {
  return JSON.parse(entryJSONText(e)) as Record<string, unknown>;
}
