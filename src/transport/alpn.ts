/**
 * The ALPN protocols the TLS port accepts by default: AWS's `x-amzn-mqtt-ca` (MQTT with a client certificate
 * on port 443, aws-iot-behaviour.md §7). A client that offers none is served too. Its own module, so that
 * validating options does not load node:tls.
 */
export const DEFAULT_ALPN: readonly string[] = Object.freeze(['x-amzn-mqtt-ca']);
