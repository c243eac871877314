/**
 * AWS IoT lifecycle event topics and payloads (developer guide, "Lifecycle events").
 * Timestamps are epoch milliseconds; a connection's connect and disconnect events share a versionNumber.
 */
import { createHash } from 'node:crypto';
import type { DisconnectReason } from '../trace/entry';

export const lifecycleTopics = {
  connected: (clientId: string) => `$aws/events/presence/connected/${clientId}`,
  disconnected: (clientId: string) => `$aws/events/presence/disconnected/${clientId}`,
  subscribed: (clientId: string) => `$aws/events/subscriptions/subscribed/${clientId}`,
  unsubscribed: (clientId: string) => `$aws/events/subscriptions/unsubscribed/${clientId}`,
  connectFailed: (clientId: string) => `$aws/events/presence/connect_failed/${clientId}`,
};

/** AWS sends no lifecycle events at all for client ids containing `+` or `#`. */
export function hasLifecycleEvents(clientId: string): boolean {
  return !clientId.includes('+') && !clientId.includes('#');
}

/**
 * AWS reports the certificate id (64 hex characters) of an mTLS client. The fake has no certificate on
 * plain TCP, so it reports a stable stand-in derived from the client id.
 */
export function principalFor(clientId: string): string {
  return createHash('sha256').update(`fake-aws-iot:${clientId}`).digest('hex');
}

export interface SessionFacts {
  clientId: string;
  sessionIdentifier: string;
  principalIdentifier: string;
  versionNumber: number;
}

export function connectedPayload(s: SessionFacts, timestamp: number, ipAddress: string) {
  return {
    clientId: s.clientId,
    timestamp,
    eventType: 'connected' as const,
    sessionIdentifier: s.sessionIdentifier,
    principalIdentifier: s.principalIdentifier,
    ipAddress,
    versionNumber: s.versionNumber,
  };
}

export function disconnectedPayload(s: SessionFacts, timestamp: number, reason: DisconnectReason) {
  return {
    clientId: s.clientId,
    timestamp,
    eventType: 'disconnected' as const,
    sessionIdentifier: s.sessionIdentifier,
    principalIdentifier: s.principalIdentifier,
    clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
    disconnectReason: reason,
    versionNumber: s.versionNumber,
  };
}

export function subscriptionPayload(s: SessionFacts, timestamp: number, eventType: 'subscribed' | 'unsubscribed', topics: string[]) {
  return {
    clientId: s.clientId,
    timestamp,
    eventType,
    sessionIdentifier: s.sessionIdentifier,
    principalIdentifier: s.principalIdentifier,
    topics,
  };
}

/** What a connect_failed event says of the refused connection (aws-iot-behaviour.md §3.3). */
export interface FailedConnect {
  clientId: string;
  thingName?: string;
  principalIdentifier: string;
  sessionIdentifier: string;
  ipAddress: string;
}

/** AWS: the only connectFailureReason is AUTHORIZATION_FAILED (§3.3). */
export function connectFailedPayload(f: FailedConnect, timestamp: number) {
  return {
    clientId: f.clientId,
    ...(f.thingName !== undefined ? { thingName: f.thingName } : {}),
    timestamp,
    eventType: 'connect_failed' as const,
    connectFailureReason: 'AUTHORIZATION_FAILED' as const,
    principalIdentifier: f.principalIdentifier,
    sessionIdentifier: f.sessionIdentifier,
    ipAddress: f.ipAddress,
  };
}
