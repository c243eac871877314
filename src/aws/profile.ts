/**
 * AWS IoT Core's behaviour as data. Handlers read these values; nothing else in the code
 * base knows an AWS number. Every value can be overridden through startFakeIot() options.
 */

/** Numeric limits of the message broker. */
export interface Limits {
  /** Longest client id, in UTF-8 bytes. AWS: 128. */
  maxClientIdBytes: number;
  /** Longest topic name or filter, in UTF-8 bytes (the `$aws/rules/<rule>/` prefix not counted). AWS: 256. */
  maxTopicBytes: number;
  /** Most `/` separators in a topic name or filter (8 levels). AWS: 7. */
  maxTopicSlashes: number;
  /** Most topic filters in one SUBSCRIBE packet. AWS: 8. */
  maxFiltersPerSubscribe: number;
  /** Most subscriptions one connection may hold. AWS: 50. */
  maxSubscriptionsPerConnection: number;
  /** Largest PUBLISH (or will) payload, in bytes. AWS: 128 KB. */
  maxPayloadBytes: number;
  /** Smallest keep-alive the broker accepts; shorter ones are raised to it. AWS: 30 s. */
  minKeepAliveSeconds: number;
  /** Largest keep-alive the broker accepts; longer ones, and 0, become this value. AWS: 1200 s. */
  maxKeepAliveSeconds: number;
  /** How long a persistent session outlives its connection. AWS: 1 hour. */
  sessionExpirySeconds: number;
  /**
   * How long a new connection may take to send a complete CONNECT before the socket is closed. AWS closes
   * such sockets but does not document when [UNVERIFIED]; 10 s.
   */
  connectTimeoutSeconds: number;
  /**
   * How long after a client id's last connection ended its lifecycle `versionNumber` starts again at 0.
   * AWS: "resets to 0 after ~1 h without a connection" (aws-iot-behaviour.md §3.2).
   */
  lifecycleVersionResetSeconds: number;
  /** Most unacknowledged outbound QoS 1 messages per client; further ones wait. AWS: 100. */
  maxInflightMessages: number;
  /**
   * A QoS 1 message a connected client has not acknowledged is sent again after this long. AWS retries but
   * does not say how often [UNVERIFIED]; 20 s.
   */
  qos1RetryIntervalSeconds: number;
  /** How long AWS keeps retrying an unacknowledged QoS 1 message before dropping it. AWS: 1 hour. */
  qos1RetryWindowSeconds: number;
  /** Most QoS 1 messages waiting for one client (offline, or beyond maxInflightMessages); newer ones are dropped. */
  maxQueuedMessages: number;
  /**
   * Bytes one client may hold in the broker: its QoS 1 messages in flight and queued, plus what waits in its
   * socket. A new message beyond it is dropped (`dropped` event). Not an AWS number: it keeps a consumer
   * that stops reading from costing the host more than this.
   */
  maxQueuedBytes: number;
  /**
   * Bytes the endpoint may hold for all its clients together: QoS 1 in flight and queued, and what waits in
   * sockets. Beyond it new messages are dropped. Not an AWS number.
   */
  maxTotalQueuedBytes: number;
  /**
   * Bytes the broker lets pile up in a client's socket buffer before it drops QoS 0 messages to that
   * client (a consumer that stops reading). Not an AWS number: QoS 0 is "zero or more times" there.
   */
  maxBufferedBytes: number;
  /**
   * PUBLISH packets one connection may send and receive together per second (in + out). AWS: 100, not
   * adjustable; the excess is discarded (reactions.publishRate). Enforced while reactions.throttles is on.
   */
  maxPublishesPerSecond: number;
  /**
   * Bytes per second one connection may send, and be sent. AWS: 512 KiB/s, not adjustable; the excess is
   * delayed (reactions.throughput). Enforced while reactions.throttles is on.
   */
  maxBytesPerSecond: number;
  /**
   * CONNECTs per second with one client id. AWS: 1, not adjustable; the excess is throttled
   * (`Connect.ClientIDThrottle`, reactions.connectRate). Enforced while reactions.throttles is on.
   */
  maxConnectsPerSecondPerClientId: number;
  /**
   * How fast a resumed persistent session gets the messages stored while its client was away. AWS: 10
   * messages/s, live traffic beside them (aws-iot-behaviour.md §1.6). Enforced while reactions.throttles is on.
   */
  storedMessagesPerSecond: number;
  /** Device Shadow: bytes of desired + reported in the merged document, metadata not counted. AWS: 8 KB (§4.4); over it, 413. */
  shadowMaxDocumentBytes: number;
  /**
   * Device Shadow: levels of nesting under `desired` / `reported`. Sources disagree (2019 limits page: 5; AWS's
   * error text and Greengrass's re-implementation: 6; a third-party copy of today's quotas: 8); 6 (§4.4).
   */
  shadowMaxDepth: number;
  /** Device Shadow: longest clientToken, in bytes. AWS: 64; longer is 400 "Invalid clientToken" (§4.2). */
  shadowMaxClientTokenBytes: number;
  /** Device Shadow: a deleted shadow updated again within this time continues its version numbers. AWS: 48 h (§4.2). */
  shadowVersionKeepSeconds: number;
  /**
   * Device Shadow: requests for one thing that may wait for their answer at once. AWS: 10 in flight; more is
   * 429 (§2, §4.4). Here a request is in flight from the moment it is published until its answer goes out
   * (right after the request's own handling), so only a burst that arrives together can exceed it.
   */
  shadowMaxInFlightRequests: number;
  /**
   * Device Shadow: requests per second for one thing, over MQTT and HTTP together. AWS: 20 (§2, §4.4); more get
   * 429. Enforced while reactions.throttles is on.
   */
  shadowRequestsPerSecondPerThing: number;
  /**
   * SigV4 (WebSocket upgrades, the HTTP data plane): how far a request's X-Amz-Date may be from the endpoint's
   * clock. AWS: 5 minutes (aws-iot-behaviour.md §7); beyond it, HTTP 403.
   */
  sigv4ClockSkewSeconds: number;
  /**
   * Custom authorizers: how long the authorizer may take to answer. AWS: the authorizer Lambda has 5 s
   * (aws-iot-behaviour.md §7); on the endpoint's clock, so `clock: 'virtual'` moves it. Over it, the connect fails.
   */
  customAuthTimeoutSeconds: number;
  /**
   * Custom authorizers: the least a response may give as `disconnectAfterInSeconds` or `refreshAfterInSeconds`.
   * AWS: 300 (§7); a response outside the range is invalid, and the connect fails.
   */
  customAuthMinTtlSeconds: number;
  /** Custom authorizers: the most a response may give as `disconnectAfterInSeconds` or `refreshAfterInSeconds`. AWS: 86400 (§7). */
  customAuthMaxTtlSeconds: number;
  /** Custom authorizers: policy documents one response may return. AWS: 10 (§7); more makes the response invalid. */
  customAuthMaxPolicyDocuments: number;
  /**
   * An IoT policy document's size, whitespace not counted. AWS: 2048 characters (aws-iot-behaviour.md §6.1, §7);
   * a larger one is refused (the option, iot.setPolicy(), or a custom authorizer's response).
   */
  policyMaxChars: number;
  /** IoT policies attached to one principal. AWS: 10 (§6.1); one more is refused (LIMIT_EXCEEDED). */
  maxPoliciesPerPrincipal: number;
  /**
   * Bytes the endpoint's shadows may hold together (documents and metadata). Not an AWS number: it keeps the
   * endpoint bounded in memory. An update that would go beyond it is refused with 429, as AWS answers a quota.
   */
  shadowMaxStoreBytes: number;
  /**
   * Retained messages the account may store (profile `current`, reactions.retain: 'store'). AWS names the quota
   * "Maximum number of retained messages per account"; its value is not confirmed — secondary sources quote
   * 500,000 (aws-iot-behaviour.md §1.7, §2). Over it, a non-empty RETAIN publish is throttled (reactions.retainedQuota).
   */
  maxRetainedMessages: number;
  /**
   * Bytes (payload + topic) the retained store may hold. Not an AWS number: it keeps the endpoint bounded in
   * bytes (500,000 × 128 KB would not be). Over it, a RETAIN publish is throttled like one over maxRetainedMessages.
   */
  maxRetainedBytes: number;
  /** Longest share name in `$share/{ShareName}/{TopicFilter}`, in UTF-8 bytes. AWS: 128 (aws-iot-behaviour.md §1.12). */
  maxShareNameBytes: number;
  /**
   * QoS 1 messages a shared-subscription group keeps while none of its (persistent) members can take them.
   * AWS names the quota "Maximum number of queued messages per shared subscription group"; the value is not
   * documented [UNVERIFIED]. Over it the new message is dropped (aws-iot-behaviour.md §1.12).
   */
  maxSharedQueuedMessages: number;
  /**
   * How fast a group's queued messages go out: per active (online) member, per second. AWS: 20
   * (aws-iot-behaviour.md §1.12, §2). Enforced while reactions.throttles is on; without throttles they go at once.
   */
  sharedQueueMessagesPerSecond: number;
  /**
   * MQTT 5: the highest Session Expiry Interval a client is granted, on top of sessionExpirySeconds (the
   * account's maximum, 1 h by default). AWS: 7 days (aws-iot-behaviour.md §1.6, §2); a larger request is
   * granted the lower value, echoed in CONNACK.
   */
  maxSessionExpiryIntervalSeconds: number;
  /** MQTT 5: Topic Alias Maximum in CONNACK — aliases a client may use. AWS: 8 (§1.11, §2); an alias above it is DISCONNECT 0x94. */
  maxTopicAliases: number;
  /**
   * MQTT 5: Maximum Packet Size in CONNACK — the largest whole packet a client may send. AWS: "≤ 128 KB" (§1.4, §2);
   * a larger one is DISCONNECT 0x95. (MQTT 3.1.1 clients are held to maxPayloadBytes.)
   */
  maxPacketBytes: number;
  /**
   * MQTT 5: Receive Maximum in CONNACK — unacknowledged QoS 1 PUBLISHes a client may have towards the broker.
   * AWS sends one but does not document its value; 100, the in-flight quota (§1.11, §2) [UNVERIFIED].
   */
  receiveMaximum: number;
  /** MQTT 5 Message Expiry Interval: a larger value from a publisher is lowered to this. AWS: 604800 s, 7 days (§1.11). */
  maxMessageExpirySeconds: number;
  /** MQTT 5 Message Expiry Interval: a smaller value (0) from a publisher is raised to this. AWS: 1 s (§1.11). */
  minMessageExpirySeconds: number;
  /** Jobs: longest job id, in characters (`[a-zA-Z0-9_-]`). AWS: 64 (aws-iot-behaviour.md §5); longer is InvalidRequest. */
  jobsMaxJobIdChars: number;
  /** Jobs: largest job document, in UTF-8 bytes of its JSON. AWS: 32 KB (§5); `iot.jobs.create()` refuses a larger one. */
  jobsMaxDocumentBytes: number;
  /** Jobs: longest clientToken a device may send, in characters. AWS: 64 (the Jobs API's clientToken); longer is InvalidRequest. */
  jobsMaxClientTokenChars: number;
  /** Jobs: longest statusDetails name, in characters (`[a-zA-Z0-9:_-]`). AWS: 128 (JobExecutionState); longer is InvalidRequest. */
  jobsMaxStatusDetailsKeyChars: number;
  /** Jobs: longest statusDetails value, in characters. AWS: 1,024 (JobExecutionState); longer is InvalidRequest. */
  jobsMaxStatusDetailsValueChars: number;
  /**
   * Jobs: the longest step timeout (`stepTimeoutInMinutes`) and job in-progress timeout
   * (`timeoutConfig.inProgressTimeoutInMinutes`), in minutes. AWS: 1 minute to 7 days, 10,080 (§5, the Jobs API).
   */
  jobsMaxTimeoutMinutes: number;
  /** Jobs: executions a `/jobs/notify` message lists, IN_PROGRESS first. AWS: at most 10 (§5). */
  jobsMaxNotifyExecutions: number;
}

/** How the broker reacts to things AWS does not support. */
export interface Reactions {
  /**
   * QoS 2 PUBLISH or SUBSCRIBE. `'ignore'`: no PUBACK/SUBACK, nothing delivered, connection kept
   * (the developer guide's wording). `'disconnect'`: the connection is closed (what users report).
   */
  qos2: 'ignore' | 'disconnect';
  /**
   * PUBLISH with RETAIN, or a will with Will Retain. `'store'`: AWS since 2021-09 — one message kept per topic,
   * with AWS's rules (aws-iot-behaviour.md §1.7). `'disconnect'`: the connection is closed and nothing is
   * stored (the classic developer guide). `'ignore'`: the message is delivered with RETAIN cleared and not stored.
   */
  retain: 'store' | 'disconnect' | 'ignore';
  /**
   * A RETAIN publish (or Will Retain) to a `$` topic a client may publish to, under retain: 'store'. AWS: RETAIN
   * "is not allowed on reserved topics"; what the client sees is not documented (aws-iot-behaviour.md §1.7:
   * likely a disconnect, v5 PUBACK 0x90) [UNVERIFIED]. `'disconnect'` closes the connection (for a will: the
   * CONNECT fails); `'ignore'` delivers the message and stores nothing.
   */
  reservedRetain: 'disconnect' | 'ignore';
  /**
   * A non-empty RETAIN publish while the retained store is full (limits.maxRetainedMessages, maxRetainedBytes).
   * AWS: a "throttled" response until the count drops (aws-iot-behaviour.md §1.7); on MQTT 3.1.1 there is no
   * reason code, so, as for the publish rate: `'discard'` — neither stored nor delivered, no PUBACK
   * [UNVERIFIED]; `'disconnect'` closes the connection (THROTTLED). A RETAIN publish that replaces a topic's
   * message (or deletes it) is always allowed while the bytes fit.
   */
  retainedQuota: 'discard' | 'disconnect';
  /**
   * `$share/{ShareName}/{TopicFilter}` subscriptions (aws-iot-behaviour.md §1.12), for MQTT 3.1.1 and 5:
   * `true` in the current profile. `false` (classic: AWS had no shared subscriptions in 2020) treats
   * `$share/...` as any other `$` filter, so reactions.reservedTopics decides (disconnect by default).
   */
  sharedSubscriptions: boolean;
  /**
   * Empty client id on a clean session. `'assign'`: the broker picks one (MQTT 3.1.1 §3.1.3-6);
   * `'reject'`: CONNACK 0x02. A persistent session with an empty id is always rejected [MQTT-3.1.3-8].
   */
  emptyClientId: 'assign' | 'reject';
  /** Publish the `$aws/events/...` lifecycle messages. */
  lifecycleEvents: boolean;
  /**
   * QoS the lifecycle messages are published at (a subscriber gets min(this, its grant)). AWS does not
   * document it [UNVERIFIED]; 1 lets the subscriber's grant decide.
   */
  lifecycleQos: 0 | 1;
  /**
   * Whether `a/#` also matches the parent topic `a` (MQTT 3.1.1 §4.7.1.2 says it does). AWS: it does not —
   * `sensor/#` matches `sensor/` and `sensor/x` but not `sensor` (aws-iot-behaviour.md §0, 2021-08).
   */
  hashMatchesParent: boolean;
  /**
   * Whether the basic-ingest prefix `$aws/rules/<rule>/` is left out when a topic is measured against
   * limits.maxTopicBytes and limits.maxTopicSlashes. AWS: it is (aws-iot-behaviour.md §1.10).
   */
  basicIngestPrefixExempt: boolean;
  /**
   * What happens to a QoS 0 message for a persistent session whose client is offline. AWS: `'drop'` —
   * only QoS 1 messages are stored (aws-iot-behaviour.md §1.6). `'queue'` keeps it like QoS 1 would be.
   */
  offlineQos0: 'drop' | 'queue';
  /**
   * A packet the client sends before it could have read the CONNACK (it arrived in the same read as the
   * CONNECT). AWS: the client must wait for CONNACK (aws-iot-behaviour.md §1.1) — `'disconnect'` closes the
   * connection; `'allow'` handles the packet as if the client had waited.
   */
  packetBeforeConnack: 'disconnect' | 'allow';
  /**
   * A client that publishes to or subscribes to a `$` topic AWS does not open to clients (a made-up
   * `$foo/...`, `$SYS/#`, or a fake `$aws/events/...` lifecycle message). AWS: "unsupported use can result
   * in a terminated connection" (aws-iot-behaviour.md §3.1) — `'disconnect'`; `'allow'` treats it as any topic.
   */
  reservedTopics: 'disconnect' | 'allow';
  /**
   * Whether AWS's rate limits apply: limits.maxPublishesPerSecond, maxBytesPerSecond,
   * maxConnectsPerSecondPerClientId and storedMessagesPerSecond. AWS: always. `false` is for load tests and
   * benchmarks, which measure the fake rather than the quota.
   */
  throttles: boolean;
  /**
   * A PUBLISH over limits.maxPublishesPerSecond (either direction). AWS: `'discard'` — the message is dropped
   * silently (a QoS 1 PUBLISH from the client gets no PUBACK [UNVERIFIED]); `'disconnect'` closes the
   * connection with lifecycle reason THROTTLED.
   */
  publishRate: 'discard' | 'disconnect';
  /**
   * Traffic over limits.maxBytesPerSecond. AWS: `'delay'` — the connection is read (and written) more slowly,
   * nothing is lost; `'disconnect'` closes it with lifecycle reason THROTTLED.
   */
  throughput: 'delay' | 'disconnect';
  /**
   * A CONNECT sooner than limits.maxConnectsPerSecondPerClientId allows. AWS throttles it; what the client
   * sees is not documented [UNVERIFIED]: `'close'` closes the socket without CONNACK (what devices report),
   * `'server-unavailable'` answers CONNACK 0x03. The connection holding the client id is not affected.
   */
  connectRate: 'close' | 'server-unavailable';
  /**
   * Device Shadow: whether an update that names only `reported` also publishes `/update/delta` when a delta
   * remains. AWS documents the delta after updates that set `desired`, and is silent on this case
   * [UNVERIFIED] (§4.3): `false`.
   */
  shadowDeltaOnReportedUpdate: boolean;
  /**
   * MQTT 5: a SUBSCRIBE asking for QoS 2. AWS advertises Maximum QoS 1; whether it grants QoS 1 or refuses the
   * filter is not documented (aws-iot-behaviour.md §1.2) [UNVERIFIED]: `'downgrade'` grants QoS 1 (SUBACK 0x01, as
   * MQTT 5 allows), `'refuse'` answers 0x80 for that filter. (MQTT 3.1.1 clients: reactions.qos2.)
   */
  qos2SubscribeMqtt5: 'downgrade' | 'refuse';
  /**
   * MQTT 3.1.1: a PUBLISH an IoT policy denies (iot:Publish, or iot:RetainPublish for a RETAIN one). AWS drops
   * the connection (aws-iot-behaviour.md §6.2, field reports; a QoS 1 device then retries in a loop):
   * `'disconnect'`; `'drop'` discards the message and keeps the connection (no PUBACK). MQTT 5 always answers
   * a QoS 1 one with PUBACK 0x87 (reactions.unauthorizedPublishQos0Mqtt5 for QoS 0).
   */
  unauthorizedPublish: 'disconnect' | 'drop';
  /**
   * MQTT 5: a QoS 0 PUBLISH an IoT policy denies. AWS does not document which [UNVERIFIED] (§6.2): `'drop'` —
   * silently discarded — or `'disconnect'` (DISCONNECT 0x87 "Not authorized").
   */
  unauthorizedPublishQos0Mqtt5: 'drop' | 'disconnect';
  /**
   * MQTT 3.1.1: a SUBSCRIBE with a filter an IoT policy denies (iot:Subscribe). AWS drops the connection without
   * a SUBACK (confirmed by AWS 2017–18, still reported 2021; §6.2): `'disconnect'`. No source shows a SUBACK
   * 0x80 for it, but MQTT allows one: `'suback-failure'` answers 0x80 for the denied filters and grants the
   * others. MQTT 5 always answers 0x87 for the denied filters.
   */
  unauthorizedSubscribe: 'disconnect' | 'suback-failure';
}

/** Where clients may publish and subscribe among AWS's `$` topics, as topic filters (aws-iot-behaviour.md §3.1, §4, §5). */
export interface ReservedTopics {
  /** Topics a client may publish to. */
  publish: readonly string[];
  /** What a client may subscribe to: a filter must stay within one of these. */
  subscribe: readonly string[];
}

/**
 * What distinguishes the profiles, in one place (README: "classic vs current"). Derived from the profile's
 * reactions after the options are applied, so it always says what the endpoint does.
 */
export interface Features {
  /**
   * MQTT protocol levels the profile speaks: 4 is 3.1.1, 5 is MQTT 5. AWS today: both (aws-iot-behaviour.md
   * §1.1), `current` says `[4, 5]`; 2020: 3.1.1 only, `classic` says `[4]` and answers an MQTT 5 CONNECT with
   * CONNACK 0x01 (unacceptable protocol version), as AWS did before MQTT 5 launched.
   */
  protocolVersions: readonly (4 | 5)[];
  /** Retained messages are stored and delivered with AWS's rules (reactions.retain === 'store'). */
  retained: boolean;
  /** `$share/...` subscriptions work (reactions.sharedSubscriptions). */
  sharedSubscriptions: boolean;
}

export interface Profile {
  /**
   * `'classic'`: AWS IoT Core as its developer guide read in 2019–2020. `'current'`: today's AWS IoT Core
   * (retained messages since 2021-09, shared subscriptions, MQTT 5).
   */
  name: 'classic' | 'current';
  features: Features;
  limits: Limits;
  reactions: Reactions;
  reserved: ReservedTopics;
}

/** The features a profile's reactions amount to. */
export function featuresOf(reactions: Reactions, protocolVersions: readonly (4 | 5)[]): Features {
  return Object.freeze({ protocolVersions, retained: reactions.retain === 'store', sharedSubscriptions: reactions.sharedSubscriptions });
}

/** AWS's reserved topics that clients may use (the reserved-topics page, 2022). */
const RESERVED_TOPICS: ReservedTopics = Object.freeze({
  publish: Object.freeze([
    '$aws/rules/+', '$aws/rules/+/#', // basic ingest: to the rule, not to subscribers
    '$aws/things/+/shadow/get', '$aws/things/+/shadow/update', '$aws/things/+/shadow/delete',
    '$aws/things/+/shadow/name/+/get', '$aws/things/+/shadow/name/+/update', '$aws/things/+/shadow/name/+/delete',
    // Jobs: the whole namespace goes to the Jobs service, which answers a topic that is no API with InvalidTopic (§5).
    '$aws/things/+/jobs/#',
    '$aws/certificates/create/+', '$aws/certificates/create-from-csr/+', '$aws/provisioning-templates/+/provision/+',
    '$aws/things/+/defender/metrics/+', '$aws/things/+/streams/+/get/+', '$aws/things/+/streams/+/describe/+',
  ]),
  subscribe: Object.freeze([
    '$aws/events/#',
    '$aws/things/+/shadow/#', '$aws/things/+/jobs/#', '$aws/things/+/tunnels/notify',
    '$aws/things/+/defender/metrics/+/accepted', '$aws/things/+/defender/metrics/+/rejected',
    '$aws/things/+/streams/+/data/+', '$aws/things/+/streams/+/description/+', '$aws/things/+/streams/+/rejected/+',
    '$aws/certificates/create/+/accepted', '$aws/certificates/create/+/rejected',
    '$aws/certificates/create-from-csr/+/accepted', '$aws/certificates/create-from-csr/+/rejected',
    '$aws/provisioning-templates/+/provision/+/accepted', '$aws/provisioning-templates/+/provision/+/rejected',
    '$aws/sitewise/#',
  ]),
});

/**
 * The "classic" profile: AWS IoT Core as its developer guide described it in 2019–2020 (MQTT 3.1.1 only,
 * no retained messages), with the limits of that era's quota table.
 */
const CLASSIC_LIMITS: Limits = Object.freeze({
  maxClientIdBytes: 128,
  maxTopicBytes: 256,
  maxTopicSlashes: 7,
  maxFiltersPerSubscribe: 8,
  maxSubscriptionsPerConnection: 50,
  maxPayloadBytes: 128 * 1024,
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  sessionExpirySeconds: 3600,
  connectTimeoutSeconds: 10,
  lifecycleVersionResetSeconds: 3600,
  maxInflightMessages: 100,
  qos1RetryIntervalSeconds: 20,
  qos1RetryWindowSeconds: 3600,
  maxQueuedMessages: 10_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  maxTotalQueuedBytes: 32 * 1024 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxPublishesPerSecond: 100,
  maxBytesPerSecond: 512 * 1024,
  maxConnectsPerSecondPerClientId: 1,
  storedMessagesPerSecond: 10,
  maxRetainedMessages: 500_000,
  maxRetainedBytes: 64 * 1024 * 1024,
  maxShareNameBytes: 128,
  maxSharedQueuedMessages: 10_000,
  sharedQueueMessagesPerSecond: 20,
  maxSessionExpiryIntervalSeconds: 7 * 24 * 3600,
  maxTopicAliases: 8,
  maxPacketBytes: 128 * 1024,
  receiveMaximum: 100,
  maxMessageExpirySeconds: 7 * 24 * 3600,
  minMessageExpirySeconds: 1,
  shadowMaxDocumentBytes: 8192,
  shadowMaxDepth: 6,
  shadowMaxClientTokenBytes: 64,
  shadowVersionKeepSeconds: 48 * 3600,
  shadowMaxInFlightRequests: 10,
  shadowRequestsPerSecondPerThing: 20,
  sigv4ClockSkewSeconds: 300,
  customAuthTimeoutSeconds: 5,
  customAuthMinTtlSeconds: 300,
  customAuthMaxTtlSeconds: 86_400,
  customAuthMaxPolicyDocuments: 10,
  policyMaxChars: 2048,
  maxPoliciesPerPrincipal: 10,
  shadowMaxStoreBytes: 64 * 1024 * 1024,
  jobsMaxJobIdChars: 64,
  jobsMaxDocumentBytes: 32 * 1024,
  jobsMaxClientTokenChars: 64,
  jobsMaxStatusDetailsKeyChars: 128,
  jobsMaxStatusDetailsValueChars: 1024,
  jobsMaxTimeoutMinutes: 10_080,
  jobsMaxNotifyExecutions: 10,
});

const CLASSIC_REACTIONS: Reactions = Object.freeze({
  qos2: 'ignore',
  retain: 'disconnect',
  reservedRetain: 'disconnect',
  retainedQuota: 'discard',
  sharedSubscriptions: false,
  emptyClientId: 'assign',
  lifecycleEvents: true,
  lifecycleQos: 1,
  hashMatchesParent: false,
  basicIngestPrefixExempt: true,
  offlineQos0: 'drop',
  packetBeforeConnack: 'disconnect',
  reservedTopics: 'disconnect',
  throttles: true,
  publishRate: 'discard',
  throughput: 'delay',
  connectRate: 'close',
  shadowDeltaOnReportedUpdate: false,
  qos2SubscribeMqtt5: 'downgrade',
  unauthorizedPublish: 'disconnect',
  unauthorizedPublishQos0Mqtt5: 'drop',
  unauthorizedSubscribe: 'disconnect',
});

export const classicProfile: Readonly<Profile> = Object.freeze({
  name: 'classic',
  features: featuresOf(CLASSIC_REACTIONS, Object.freeze([4] as const)),
  limits: CLASSIC_LIMITS,
  reactions: CLASSIC_REACTIONS,
  reserved: RESERVED_TOPICS,
} as Profile);

const CURRENT_REACTIONS: Reactions = Object.freeze({
  ...CLASSIC_REACTIONS,
  // AWS since 2021-09: RETAIN is supported — the "retain → disconnect" bullet left the MQTT page on 2021-09-01 (§0, §1.7).
  retain: 'store',
  // AWS: `$share/{ShareName}/{TopicFilter}` for MQTT 3.1.1 and 5 (§1.12).
  sharedSubscriptions: true,
});

/**
 * The "current" profile: AWS IoT Core as its developer guide reads today (aws-iot-behaviour.md §0): retained
 * messages with AWS's rules, shared subscriptions, MQTT 5 beside 3.1.1 (§1.1, §1.11). Limits are those of the
 * classic profile plus the retained, shared-subscription and MQTT 5 ones (which classic carries but never uses).
 */
export const currentProfile: Readonly<Profile> = Object.freeze({
  name: 'current',
  // AWS: MQTT 3.1.1 and MQTT 5 on the same endpoints (§1.1).
  features: featuresOf(CURRENT_REACTIONS, Object.freeze([4, 5] as const)),
  limits: CLASSIC_LIMITS,
  reactions: CURRENT_REACTIONS,
  reserved: RESERVED_TOPICS,
} as Profile);

export const profiles = { classic: classicProfile, current: currentProfile } as const;
export type ProfileName = keyof typeof profiles;
