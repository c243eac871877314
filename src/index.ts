export { startFakeIot } from './start-fake-iot';
export type { FakeIot, PublishOptions, DisconnectOptions, SettledOptions, ChaosControl, FakeIotClock, FakeIotWebSockets, FakeIotRetained, FakeIotHttp, ShadowControl, ShadowOptions, CloudPublishProperties } from './start-fake-iot';
export type { JobsControl, CreateJobSpec, JobDescription, JobExecutionInfo, CancelJobOptions, CancelExecutionOptions, DeleteExecutionOptions } from './services/jobs-control';
export type { JobExecutionStatus, JobsErrorCode, JobOperation } from './services/jobs';
export { presignWebSocketUrl } from './transport/sigv4';
export type { AwsCredentials, PresignOptions } from './transport/sigv4';
export type { Clock, TimerHandle } from './clock/clock';
export type {
  ChaosOptions,
  ChaosScope,
  ChaosTag,
  ChaosDecision,
  FaultName,
  ScriptableFault,
  ScriptStep,
  DuplicateQos0Options,
  ResendWithNewPacketIdOptions,
  SubscriptionDelayOptions,
  ReorderOptions,
  LatencyOptions,
  DropConnectionOptions,
  TakeoverOptions,
  ConnackDelayOptions,
  ShadowErrorsOptions,
  JobsErrorsOptions,
  JobsErrorsCode,
} from './chaos/types';
export { FAULTS } from './chaos/types';
export type { FakeIotOptions, TraceOptions, WebSocketOptions, HttpOptions } from './options';
export { FakeIotError, isFakeIotError } from './errors';
export type { FakeIotErrorCode } from './errors';
export { classicProfile, currentProfile } from './aws/profile';
export type { Features, Limits, Reactions, Profile, ProfileName } from './aws/profile';
export type { RuleMessage } from './broker/broker';
export type { RetainedMessage, RetainedSummary } from './broker/retained';
export type {
  ClientInfo,
  CertificateStatus,
  CertificateCredentials,
  ThingCredentials,
  CreateThingOptions,
  TlsEndpoint,
  TlsOptions,
} from './identity/types';
export type { Trace, WaitForOptions } from './trace/recorder';
export { traceToHtml } from './trace/html';
export type { TraceHtmlOptions } from './trace/html';
export { traceToPcap } from './trace/pcap';
export { parseTraceJsonLines, traceToJsonLines } from './trace/jsonl';
export type { TraceRun } from './trace/jsonl';
export type { TraceMatch, TracePattern, DeepMatch, EntryFor } from './trace/query';
export type {
  TraceEntry,
  PacketEntry,
  EventEntry,
  ConnectEvent,
  DisconnectEvent,
  SubscriptionActiveEvent,
  ViolationEvent,
  IgnoredEvent,
  PublishEvent,
  SessionEndEvent,
  DroppedEvent,
  RetainedStoredEvent,
  RetainedDeletedEvent,
  ThrottledEvent,
  ShadowEvent,
  JobEvent,
  RuleEvent,
  AuthorizationEvent,
  AuthorizerEvent,
  InternalErrorEvent,
  TransportErrorEvent,
  TransportFailure,
  Transport,
  ConnectionIdentity,
  DisconnectReason,
} from './trace/entry';
export type { Packet } from './codec/codec';
export type { PolicyDocument, PolicyStatement } from './auth/policy';
export type {
  CustomAuthorizerHandler,
  CustomAuthorizerConfig,
  CustomAuthorizerRequest,
  CustomAuthorizerResponse,
  DefaultAuthorizerConfig,
} from './auth/authorizers';
