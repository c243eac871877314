/**
 * Properties as Jest runs them, in a child Jest on the fixtures in ./fixtures: a property that outlives its
 * test stops when Jest moves on, and a failure's printed replay line, run as printed, replays that property
 * and skips the other one in its file.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const fixtureArgs = ['--ci', '--json', '-i', '--testMatch', '**/__tests__/testing/fixtures/*.fixture.ts'];

interface Result {
  fullName: string;
  status: string;
  failureMessages: string[];
}

/** Runs `command` (a shell line) in the project, and returns each test's result by name and Jest's stderr. */
function childJest(command: string): { results: Map<string, Result>; stderr: string } {
  const env = { ...process.env };
  for (const key of ['FAKE_IOT_SEED', 'FAKE_IOT_PROPERTY', 'FAKE_IOT_RUNS']) delete env[key];
  const child = spawnSync('sh', ['-c', `${command} ${fixtureArgs.map((a) => `'${a}'`).join(' ')}`], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  const json = JSON.parse(child.stdout) as { testResults: { assertionResults: Result[] }[] };
  const results = new Map(json.testResults.flatMap((file) => file.assertionResults).map((r) => [r.fullName, r] as const));
  return { results, stderr: child.stderr };
}

const FAILING = "a device that can't take endpoint seeds divisible by 3 (fails on purpose)";
const OTHER = 'another property in the same file';

test('a property that outlives its test stops when Jest moves on, and the printed replay line replays only the failing property', () => {
  const first = childJest('node node_modules/jest/bin/jest.js');
  expect(first.stderr).not.toMatch(/torn down|Cannot log after tests are done|did not exit/);

  // overrun.fixture.ts: Jest times the test out; the next test sees its run aborted and its endpoint closed.
  expect(first.results.get('a property given more time than its test (times out on purpose)')).toMatchObject({
    status: 'failed',
    failureMessages: [expect.stringMatching(/Exceeded timeout of 300 ms/)],
  });
  expect(first.results.get('the next test finds that property stopped and its endpoint closed')).toMatchObject({ status: 'passed' });

  // replay.fixture.ts: one failure, one pass.
  expect(first.results.get(OTHER)).toMatchObject({ status: 'passed' });
  const failed = first.results.get(FAILING)!;
  expect(failed.status).toBe('failed');
  const message = failed.failureMessages[0]!;
  const line = /replay this run: (.*)/.exec(message)![1]!;
  const endpointSeed = /endpoint seed: (\d+)/.exec(message)![1]!;
  expect(line).toMatch(/^FAKE_IOT_SEED=\d+:[\d:]+ FAKE_IOT_PROPERTY='.*' npx jest __tests__\/testing\/fixtures\/replay\.fixture\.ts -t '.*'$/);

  const replay = childJest(line);
  expect([...replay.results.keys()].sort()).toEqual([FAILING, OTHER].sort()); // overrun.fixture.ts is not run
  expect(replay.results.get(OTHER)).toMatchObject({ status: 'pending' }); // -t skips it
  const replayed = replay.results.get(FAILING)!;
  expect(replayed.status).toBe('failed');
  expect(replayed.failureMessages[0]).toMatch(/the client did not survive chaos: failed after 1 run\(s\)/);
  expect(replayed.failureMessages[0]).toContain(`endpoint seed: ${endpointSeed}\n`);
  expect(replayed.failureMessages[0]).toContain(`replay this run: ${line}\n`);
}, 60_000);
