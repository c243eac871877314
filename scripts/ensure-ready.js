#!/usr/bin/env node
// Runs before `npm start` and `npm test`, so both work on a fresh clone: installs the npm dependencies
// when they are missing or older than package-lock.json, builds dist/, and with --test-tools makes sure
// the external tools the tests drive (mosquitto-clients, python3-paho-mqtt; chromium and tshark for the
// trace's HTML and pcapng) are installed.
'use strict';
const { execSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (cmd) => execSync(cmd, { stdio: 'inherit', cwd: root });
const mtime = (p) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : -1);

const installed = path.join(root, 'node_modules', '.package-lock.json');
if (mtime(installed) < mtime(path.join(root, 'package-lock.json'))) {
  console.error('[fake-aws-iot] installing npm dependencies (npm ci)…');
  run('npm ci --no-audit --no-fund');
}
run('npm run --silent build');

if (process.argv.includes('--test-tools')) {
  const has = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  const missing = [];
  if (!has('mosquitto_pub', ['--help']) && !has('sh', ['-c', 'command -v mosquitto_pub'])) missing.push('mosquitto-clients');
  if (!has('/usr/bin/python3', ['-c', 'import paho.mqtt.client'])) missing.push('python3-paho-mqtt');
  if (!fs.existsSync('/usr/bin/chromium')) missing.push('chromium');
  if (!has('sh', ['-c', 'command -v tshark'])) missing.push('tshark');
  if (missing.length > 0) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isRoot && has('sh', ['-c', 'command -v apt-get'])) {
      console.error(`[fake-aws-iot] installing test tools: ${missing.join(' ')} (apt-get)…`);
      run(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')} >/dev/null`);
    } else {
      console.error(`[fake-aws-iot] the tests drive real MQTT clients, chromium and tshark; install them first:\n  sudo apt-get install -y ${missing.join(' ')}`);
      process.exit(1);
    }
  }
}
