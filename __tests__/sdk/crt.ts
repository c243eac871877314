/**
 * What the tests of aws-crt's native Mqtt5Client share: waiting for what the client reports on its own threads,
 * and stopping and closing every client a test started (its native resources are released then).
 */
import { mqtt5 } from 'aws-iot-device-sdk-v2';

/**
 * Waits (up to 5 s) for what an aws-crt client reports on its own threads: its events come after the endpoint's
 * last trace entry, so the trace cannot wake a waiter for them.
 */
export async function until(done: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5000; !done(); ) {
    if (Date.now() > deadline) throw new Error(`the Mqtt5Client reported no ${what} within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The Mqtt5Clients the tests of a file start: each is stopped and closed after its test. */
export function mqtt5Clients(): Set<mqtt5.Mqtt5Client> {
  const opened = new Set<mqtt5.Mqtt5Client>();
  afterEach(async () => {
    for (const c of [...opened]) {
      opened.delete(c);
      const stopped = new Promise((resolve) => c.once('stopped', resolve));
      c.stop();
      await stopped;
      c.close();
    }
  });
  return opened;
}
