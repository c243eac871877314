// One system's windowed relay in a loop, for a CPU profile of the broker and the clients together:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.mjs [project|project+trace|aedes] [qos] [fanout] [seconds]
// (npm run build first). The profile shows where an in-process test suite's time goes.
import { systems } from './systems.mjs';
import { relay } from './workloads.mjs';

const [name = 'project', qos = '0', fanout = '1', seconds = '5'] = process.argv.slice(2);
const b = await systems[name]();
const until = performance.now() + Number(seconds) * 1000;
let runs = 0;
let rate = 0;
const cpu0 = process.cpuUsage();
while (performance.now() < until) {
  rate += (await relay(b.url, { qos: Number(qos), fanout: Number(fanout), count: 20000 / Number(fanout) })).rate;
  runs++;
}
const cpu = process.cpuUsage(cpu0);
await b.close();
// Process CPU per published message (clients and broker together): steadier than msg/s on a busy machine.
const perMessage = (cpu.user + cpu.system) / (runs * 20000 / Number(fanout));
console.log(`${name} QoS ${qos} 1→${fanout}: ${runs} runs, mean ${(rate / runs).toFixed(0)} msg/s, ${perMessage.toFixed(2)} µs CPU per published message`);
process.exit(0);
