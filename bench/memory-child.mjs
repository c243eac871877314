// Runs one broker in its own process, so its memory can be measured without the clients'.
import { systems } from './systems.mjs';

const broker = await systems[process.argv[2]]();
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
process.on('message', async (msg) => {
  if (msg !== 'measure') return;
  await settle();
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  process.send(m.heapUsed + m.external); // external includes arrayBuffers
});
process.send({ url: broker.url });
