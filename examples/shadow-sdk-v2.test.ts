import { io, iotshadow, mqtt } from 'aws-iot-device-sdk-v2';
import { startFakeIot } from 'fake-aws-iot';

/** The first message a shadow subscription gets: pass `handler` to subscribeTo...(), await `promise`. */
function firstMessage<T>() {
  let handler!: (error?: iotshadow.IotShadowError, response?: T) => void;
  const promise = new Promise<T>((resolve, reject) => (handler = (error, response) => (error ? reject(error) : resolve(response!))));
  return { handler, promise };
}

test("the AWS IoT Device SDK v2's shadow client: 404 on a fresh thing, then reported, then the cloud's delta", async () => {
  await using iot = await startFakeIot();
  // Against AWS: AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(...) — see "Connecting real device code".
  const connection = new mqtt.MqttClient().new_connection({
    client_id: 'thermostat-1', host_name: '127.0.0.1', port: iot.port, clean_session: true, keep_alive: 30, socket_options: new io.SocketOptions(),
  });
  await connection.connect();
  const shadow = new iotshadow.IotShadowClient(connection);
  const thingName = 'thermostat-1';
  const qos = mqtt.QoS.AtLeastOnce;

  const rejected = firstMessage<iotshadow.model.ErrorResponse>();
  await shadow.subscribeToGetShadowRejected({ thingName }, qos, rejected.handler);   // resolves at SUBACK
  await shadow.publishGetShadow({ thingName }, qos);
  expect(await rejected.promise).toMatchObject({ code: 404, message: "No shadow exists with name: 'thermostat-1'" });

  const accepted = firstMessage<iotshadow.model.UpdateShadowResponse>();
  await shadow.subscribeToUpdateShadowAccepted({ thingName }, qos, accepted.handler);
  await shadow.publishUpdateShadow({ thingName, state: { reported: { target: 19 } } }, qos);
  expect(await accepted.promise).toMatchObject({ state: { reported: { target: 19 } }, version: 1 });

  const delta = firstMessage<iotshadow.model.ShadowDeltaUpdatedEvent>();
  await shadow.subscribeToShadowDeltaUpdatedEvents({ thingName }, qos, delta.handler);
  iot.shadows.update(thingName, { state: { desired: { target: 21 } } });   // the cloud side
  expect(await delta.promise).toMatchObject({ state: { target: 21 }, version: 2 });

  await connection.disconnect();   // aws-crt's native connection: disconnect it, or Jest waits for it
});
