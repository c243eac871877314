/**
 * Public types of things, certificates and the TLS listener. Kept apart from the code that issues
 * certificates, which is loaded only when an endpoint needs it.
 */
import type { ClientInfo as BrokerClientInfo } from '../broker/broker';
import type { ConnectionIdentity } from '../trace/entry';

/** AWS IoT certificate status. A certificate that is not ACTIVE cannot connect; REVOKED is final. */
export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED';

/** A device certificate issued by the endpoint's CA, with its key, and where they were written. */
export interface CertificateCredentials {
  /** Lowercase hex SHA-256 of the certificate's DER, as AWS computes it: the connection's principal. */
  certificateId: string;
  /** `arn:aws:iot:<region>:<accountId>:cert/<certificateId>`. */
  certificateArn: string;
  /** The device certificate, PEM. */
  certificatePem: string;
  /** Its private key (EC P-256), PEM (PKCS#8). */
  privateKey: string;
  /** The CA certificate the device should trust for the server (the endpoint's CA), PEM. */
  caCertificate: string;
  /** Files holding the same, in a temporary directory that `iot.close()` removes (the CA file stays: it is the fixture's). */
  certPath: string;
  keyPath: string;
  caPath: string;
}

/** A thing and the certificate attached to it (`iot.createThing()`). */
export interface ThingCredentials extends CertificateCredentials {
  thingName: string;
  /** `arn:aws:iot:<region>:<accountId>:thing/<thingName>`. */
  thingArn: string;
}

export interface CreateThingOptions {
  /** The thing's attributes (AWS: up to 50 name/value strings): `${iot:Connection.Thing.Attributes[name]}` in policies. */
  attributes?: Record<string, string>;
  /** The thing's type: `${iot:Connection.Thing.ThingTypeName}` in policies. */
  thingTypeName?: string;
  /** Names of IoT policies (the policies option, or iot.setPolicy()) to attach to the thing's certificate. */
  policies?: string[];
}

/** The TLS listener of an endpoint started with `tls`. */
export interface TlsEndpoint {
  readonly port: number;
  /** `mqtts://localhost:<port>`, ready for MQTT.js with a client certificate. */
  readonly url: string;
  /** The CA certificate (PEM) that signed the server certificate (by default) and every certificate from createThing(). */
  readonly caCertificate: string;
  /** The same CA certificate as a file, for clients that take a path (`--cafile`, `tls_set(ca_certs=)`). */
  readonly caPath: string;
}

/** MQTT over TLS with client certificates: `tls: true` or these settings. */
export interface TlsOptions {
  /** TCP port of the TLS listener. Default 0: a free port (read it from `iot.tls.port`). */
  port?: number;
  /**
   * More CA certificates (PEM, a bundle, or a list) whose client certificates are accepted, besides the
   * endpoint's own CA (fixtures/ca.pem, which signs createThing() certificates).
   */
  ca?: string | Buffer | (string | Buffer)[];
  /** Server certificate (chain), PEM, with `key`. Default: fixtures/server.pem (localhost, 127.0.0.1, ::1, *.iot.us-east-1.amazonaws.com). */
  cert?: string | Buffer;
  /** Private key of `cert`, PEM. */
  key?: string | Buffer;
  /** Refuse a handshake that carries no server name (SNI). Default false: clients connecting to an IP address send none. */
  requireSni?: boolean;
  /**
   * ALPN protocols accepted when a client offers ALPN; a client that offers none is accepted too. Default
   * `['x-amzn-mqtt-ca']` (AWS's MQTT with certificate authentication on port 443). An offer with none of them is refused.
   */
  alpn?: string[];
}

/** A connected client, as `iot.clients()` lists it: its session, and who its transport says it is. */
export interface ClientInfo extends BrokerClientInfo, ConnectionIdentity {}
