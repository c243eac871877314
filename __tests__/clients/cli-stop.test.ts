/**
 * Stopping the CLI through the process the user started: `npm start`'s PID, or a parent that dies.
 */
import * as path from 'node:path';
import { CLI, portIsFree, spawnGroup } from './cli';

const root = path.resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const BANNER = /listening on mqtt:\/\/[\d.]+:(\d+) /;

describe('stopping the CLI', () => {
  test.each(['SIGTERM', 'SIGINT'] as const)('`npm start` stops, endpoint included, when its own PID gets %s', async (signal) => {
    // --ignore-scripts skips prestart (a rebuild of dist/ would race the other CLI tests); `-- --port 0` wins over 1883.
    const started = spawnGroup(npm, ['start', '--ignore-scripts', '--', '--port', '0'], { cwd: root });
    const port = Number((await started.waitForOutput(BANNER))[1]);

    process.kill(started.child.pid!, signal);

    await started.outputClosed(); // npm and the CLI have both exited
    expect(started.stdout() + started.stderr()).toContain(`fake-aws-iot stopped (${signal})`);
    expect(await started.exited).toBe(0);
    expect(await portIsFree(port)).toBe(true);
  });

  test('with --exit-with-parent the CLI stops when its parent dies without passing a signal on; without it, it keeps serving', async () => {
    // A parent that starts two CLIs (seed 1 with the flag, seed 2 without) and then gets SIGKILL, so it cannot forward anything.
    const parent = spawnGroup(process.execPath, ['-e', `
      const { spawn } = require('node:child_process');
      const cli = ${JSON.stringify(CLI)};
      spawn(process.execPath, [cli, '--port', '0', '--seed', '1', '--exit-with-parent'], { stdio: 'inherit' });
      spawn(process.execPath, [cli, '--port', '0', '--seed', '2'], { stdio: 'inherit' });
      setInterval(() => {}, 60_000);
    `]);
    const portOf = async (seed: number) => Number((await parent.waitForOutput(new RegExp(`listening on mqtt://[\\d.]+:(\\d+) \\(seed ${seed},`)))[1]);
    const [watching, detached] = [await portOf(1), await portOf(2)];

    process.kill(parent.child.pid!, 'SIGKILL');

    await parent.waitForOutput(/fake-aws-iot stopped \(parent exited\)/);
    expect(await portIsFree(watching)).toBe(true);
    expect(await portIsFree(detached)).toBe(false);
    expect(parent.stdout().match(/stopped/g)).toHaveLength(1);
  });
});
