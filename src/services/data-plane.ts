/**
 * AWS IoT's data-plane REST API over the endpoint's broker and shadow service, as `@aws-sdk/client-iot-data-plane`
 * calls it (routes from the SDK's own model):
 *
 *   POST   /topics/{topic}?qos=&retain=                              Publish
 *   GET    /things/{thingName}/shadow?name=                           GetThingShadow
 *   POST   /things/{thingName}/shadow?name=                           UpdateThingShadow
 *   DELETE /things/{thingName}/shadow?name=                           DeleteThingShadow
 *   GET    /api/things/shadow/ListNamedShadowsForThing/{thingName}?nextToken=&pageSize=   ListNamedShadowsForThing
 *
 * An update or delete that is accepted publishes its MQTT answers (`/update/accepted`, `/update/delta`,
 * `/update/documents`, `/delete/accepted`) as AWS does for REST updates; a rejected one answers only the
 * HTTP caller (AWS sends REST callers no error document on MQTT, aws-iot-behaviour.md §4.1).
 */
import type { TransportFailure } from '../trace/entry';
import type { DataPlaneAnswer, DataPlaneRequest } from '../transport/http';
import { type ShadowResponse, type ShadowTopic, parseShadowTopic } from './shadow';

/** ListNamedShadowsForThing's page size when none is asked for, and the largest one. */
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

/** What the data plane needs of the endpoint. */
export interface DataPlaneBackend {
  now(): number;
  /** What the profile does with RETAIN: the classic profile has no retained messages; `current` stores them. */
  retain: 'disconnect' | 'ignore' | 'store';
  /** A reason the topic is not a valid topic name, or undefined. */
  checkTopic(topic: string): { message: string; rule: string } | undefined;
  /** Whether a `$` topic is open to publishers (profile.reserved). */
  reservedPublishAllowed(topic: string): boolean;
  /** Publishes as the cloud; `retain` stores it too. `'throttled'`: the retained store is full, nothing happened. */
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): 'ok' | 'throttled';
  shadowRequest(request: ShadowTopic, payload: Buffer): ShadowResponse[];
  publishShadowResponses(responses: ShadowResponse[]): void;
  listShadows(): { thingName: string; shadowName: string | undefined }[];
  /** Counts a shadow request against its thing's rate; false when it is over (answered 429). */
  admitShadowRequest(thingName: string): boolean;
  /** The topic's retained message (profile current), with its MQTT 5 user properties; undefined when none. */
  retained(topic: string): { topic: string; payload: Buffer; qos: 0 | 1; lastModifiedTime: number; userProperties?: Record<string, string | string[]> } | undefined;
  /** Every retained message, summarised, sorted by topic. */
  retainedList(): { topic: string; payloadSize: number; qos: 0 | 1; lastModifiedTime: number }[];
}

/** ListRetainedMessages' page size when none is asked for, and the largest one (AWS: maxResults 1..200). */
const DEFAULT_RETAINED_PAGE = 50;
const MAX_RETAINED_PAGE = 200;

const error = (status: number, message: string, refusal?: TransportFailure): DataPlaneAnswer => (refusal ? { status, message, refusal } : { status, message });

/** A page's size (query `sizeParam`) and where it starts (after the name in `nextToken`), or the 400 to answer. */
function pageOf(request: DataPlaneRequest, sizeParam: string, byDefault: number, max: number): { size: number; after: string } | DataPlaneAnswer {
  const sizeText = request.query.get(sizeParam);
  const size = sizeText === undefined ? byDefault : /^\d{1,3}$/.test(sizeText) ? Number(sizeText) : NaN;
  if (!(size >= 1 && size <= max)) return error(400, `Invalid ${sizeParam}: it must be from 1 to ${max}`);
  const token = request.query.get('nextToken');
  if (token === undefined) return { size, after: '' };
  // Tokens are base64url("after:<last name of the previous page>"); anything else is refused.
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (!decoded.startsWith('after:') || Buffer.from(decoded, 'utf8').toString('base64url') !== token) return error(400, 'Invalid nextToken');
  return { size, after: decoded.slice('after:'.length) };
}

/** The data plane's request handler. */
export function dataPlane(backend: DataPlaneBackend): (request: DataPlaneRequest) => DataPlaneAnswer {
  /** AWS's per-thing shadow request rate (limits.shadowRequestsPerSecondPerThing, MQTT and HTTP together). */
  const throttled = (thingName: string): boolean => !backend.admitShadowRequest(thingName);

  const publish = (request: DataPlaneRequest, topic: string): DataPlaneAnswer => {
    const qosText = request.query.get('qos');
    if (qosText !== undefined && qosText !== '0' && qosText !== '1') return error(400, `Invalid qos: ${JSON.stringify(qosText.slice(0, 20))}; AWS IoT takes 0 or 1`, 'invalid-request');
    const retain = request.query.get('retain');
    if (retain === 'true' && backend.retain === 'disconnect') {
      return error(400, 'Retained messages are not supported by this profile (profile: "current" stores them; options.retain: "ignore" delivers them without RETAIN)', 'invalid-request');
    }
    if (topic === '') return error(400, 'The topic is empty', 'invalid-request');
    const problem = backend.checkTopic(topic);
    if (problem) return error(400, `Invalid topic ${JSON.stringify(topic.slice(0, 300))}: ${problem.message} (${problem.rule})`, 'invalid-request');
    if (topic.startsWith('$') && !backend.reservedPublishAllowed(topic)) {
      return error(403, `Publishing to ${JSON.stringify(topic.slice(0, 300))} is not allowed: AWS IoT reserves it`, 'forbidden-topic');
    }
    const store = retain === 'true' && backend.retain === 'store';
    if (store && topic.startsWith('$')) return error(400, `Retained messages are not allowed on reserved topics (${JSON.stringify(topic.slice(0, 300))})`, 'invalid-request');
    // AWS throttles a non-empty RETAIN publish while the account's retained-message store is full.
    if (backend.publish(topic, request.body, qosText === '1' ? 1 : 0, store) === 'throttled') return error(429, 'Rate exceeded: the retained-message store is full');
    return { status: 200, body: { message: 'OK' } };
  };

  const shadow = (request: DataPlaneRequest, thingName: string): DataPlaneAnswer => {
    const operation = request.method === 'GET' ? 'get' : request.method === 'POST' ? 'update' : request.method === 'DELETE' ? 'delete' : undefined;
    if (!operation) return error(405, `${request.method} is not allowed on a thing's shadow (GET, POST or DELETE)`, 'method-not-allowed');
    const shadowName = request.query.get('name');
    const target = parseShadowTopic(`$aws/things/${thingName}/shadow${shadowName === undefined ? '' : `/name/${shadowName}`}/${operation}`);
    if (!target || thingName.includes('/') || shadowName?.includes('/')) {
      return error(400, shadowName !== undefined && parseShadowTopic(`$aws/things/${thingName}/shadow/get`) ? 'Invalid shadow name' : 'Invalid thing name');
    }
    if (throttled(thingName)) return error(429, 'Rate exceeded');
    const responses = backend.shadowRequest(target, operation === 'get' ? Buffer.alloc(0) : request.body);
    const first = responses[0]!;
    if (first.topic.endsWith('/rejected')) {
      const { code, message } = first.document as { code: number; message: string };
      return error(code, message);
    }
    if (operation !== 'get') backend.publishShadowResponses(responses);
    return { status: 200, body: first.document };
  };

  const list = (request: DataPlaneRequest, thingName: string): DataPlaneAnswer => {
    if (request.method !== 'GET') return error(405, `${request.method} is not allowed here (GET)`, 'method-not-allowed');
    if (!parseShadowTopic(`$aws/things/${thingName}/shadow/get`) || thingName.includes('/')) return error(400, 'Invalid thing name');
    const page = pageOf(request, 'pageSize', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    if ('status' in page) return page;
    const { size: pageSize, after } = page;
    if (throttled(thingName)) return error(429, 'Rate exceeded');
    const names = backend.listShadows().filter((s) => s.thingName === thingName && s.shadowName !== undefined).map((s) => s.shadowName!).sort();
    const rest = names.filter((n) => n > after);
    const results = rest.slice(0, pageSize);
    const more = rest.length > pageSize;
    return {
      status: 200,
      body: { results, ...(more ? { nextToken: Buffer.from(`after:${results[results.length - 1]}`, 'utf8').toString('base64url') } : {}), timestamp: Math.floor(backend.now() / 1000) },
    };
  };

  /** GetRetainedMessage and ListRetainedMessages (AWS IoT's data plane since retained messages, 2021). */
  const retained = (request: DataPlaneRequest, topic: string | undefined): DataPlaneAnswer => {
    if (request.method !== 'GET') return error(405, `${request.method} is not allowed here (GET)`, 'method-not-allowed');
    if (topic !== undefined) {
      const m = backend.retained(topic);
      if (!m) return error(404, `No retained message exists for topic ${JSON.stringify(topic.slice(0, 300))}`);
      // Blobs travel base64 in AWS's JSON; user properties as the base64 of their JSON list of name/value pairs.
      const userProperties = m.userProperties && Object.entries(m.userProperties).flatMap(([name, v]) => (Array.isArray(v) ? v : [v]).map((value) => ({ [name]: value })));
      return {
        status: 200,
        body: { topic: m.topic, payload: m.payload.toString('base64'), qos: m.qos, lastModifiedTime: m.lastModifiedTime, ...(userProperties ? { userProperties: Buffer.from(JSON.stringify(userProperties)).toString('base64') } : {}) },
      };
    }
    const page = pageOf(request, 'maxResults', DEFAULT_RETAINED_PAGE, MAX_RETAINED_PAGE);
    if ('status' in page) return page;
    const { size: pageSize, after } = page;
    const rest = backend.retainedList().filter((m) => m.topic > after);
    const retainedTopics = rest.slice(0, pageSize);
    const more = rest.length > pageSize;
    return { status: 200, body: { retainedTopics, ...(more ? { nextToken: Buffer.from(`after:${retainedTopics[retainedTopics.length - 1]!.topic}`, 'utf8').toString('base64url') } : {}) } };
  };

  return (request) => {
    const raw = request.rawPath.split('/');
    let segments: string[];
    try {
      segments = raw.map((s) => decodeURIComponent(s));
    } catch {
      return error(400, 'The path is not valid percent-encoding', 'bad-request');
    }
    // ['', 'topics', ...topic levels]: a topic's slashes may come encoded (the AWS SDK) or not (curl).
    if (segments[1] === 'topics' && segments.length >= 3) {
      if (request.method !== 'POST') return error(405, `${request.method} is not allowed on /topics (POST)`, 'method-not-allowed');
      return publish(request, segments.slice(2).join('/'));
    }
    if (segments.length === 4 && segments[1] === 'things' && segments[3] === 'shadow') return shadow(request, segments[2]!);
    // ['', 'retainedMessage'] lists; ['', 'retainedMessage', ...topic levels] gets one.
    if (segments[1] === 'retainedMessage') return retained(request, segments.length >= 3 ? segments.slice(2).join('/') : undefined);
    if (segments.length === 6 && segments[1] === 'api' && segments[2] === 'things' && segments[3] === 'shadow' && segments[4] === 'ListNamedShadowsForThing') {
      return list(request, segments[5]!);
    }
    const shown = request.rawPath.length > 100 ? `${request.rawPath.slice(0, 100)}…` : request.rawPath;
    return error(404, `No data-plane operation at ${request.method} ${shown} (this fake serves Publish, GetThingShadow, UpdateThingShadow, DeleteThingShadow, ListNamedShadowsForThing, GetRetainedMessage, ListRetainedMessages, and the jobs data plane under /things/{thingName}/jobs)`, 'not-found');
  };
}
