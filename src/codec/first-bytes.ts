/**
 * Recognises a connection's first bytes as another protocol talking to a plain MQTT port: a TLS
 * handshake (a client that should use the TLS port) or an HTTP request (a browser, curl, a health check).
 * An MQTT connection starts with CONNECT (0x10), which matches no signature here, so it is never delayed.
 */

export interface ForeignProtocol {
  kind: 'tls-on-plain-port' | 'http-on-plain-port';
  message: string;
}

interface Signature extends ForeignProtocol {
  bytes: Buffer;
}

/** HTTP methods (RFC 9110, plus PATCH), each followed by the space of a request line. */
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const SIGNATURES: Signature[] = [
  // A TLS record of type handshake (0x16), protocol major version 3 (SSL 3.0 to TLS 1.3).
  { bytes: Buffer.from([0x16, 0x03]), kind: 'tls-on-plain-port', message: 'the client started a TLS handshake on a plain (non-TLS) MQTT port' },
  ...HTTP_METHODS.map((method): Signature => ({
    bytes: Buffer.from(`${method} `, 'latin1'),
    kind: 'http-on-plain-port',
    message: `the client sent an HTTP request (${method}) to a plain MQTT port`,
  })),
];

/** The bytes a signature can start with. */
const FIRST_BYTES = new Set(SIGNATURES.map((signature) => signature.bytes[0]!));

/**
 * What the first bytes of a connection are: another protocol, 'undecided' while they are a proper prefix
 * of some signature (more bytes will tell), or undefined when they match none (treat them as MQTT).
 */
export function recogniseFirstBytes(head: Buffer): ForeignProtocol | 'undecided' | undefined {
  if (head.length === 0) return 'undecided';
  // Every MQTT connection (CONNECT, 0x10) leaves here: no signature starts with its first byte.
  if (!FIRST_BYTES.has(head[0]!)) return undefined;
  let undecided = false;
  for (const signature of SIGNATURES) {
    const n = Math.min(head.length, signature.bytes.length);
    if (head.compare(signature.bytes, 0, n, 0, n) !== 0) continue;
    if (n === signature.bytes.length) return { kind: signature.kind, message: signature.message };
    undecided = true;
  }
  return undecided ? 'undecided' : undefined;
}
