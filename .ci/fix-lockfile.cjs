#!/usr/bin/env node
// The registry reachable here serves only this platform's msgpackr-extract binaries, so npm
// leaves the other platforms out of the lockfile and `npm ci` then calls the lock out of sync.
// Record them as the public registry would: optional, skipped on every other os/cpu.
const fs = require('fs');
const f = process.argv[2];
const lock = JSON.parse(fs.readFileSync(f));
const plat = { 'darwin-arm64': ['darwin', 'arm64'], 'darwin-x64': ['darwin', 'x64'], 'linux-arm': ['linux', 'arm'], 'win32-x64': ['win32', 'x64'] };
for (const [p, [os, cpu]] of Object.entries(plat)) {
  const key = `node_modules/@msgpackr-extract/msgpackr-extract-${p}`;
  if (!lock.packages[key]) lock.packages[key] = { version: '3.0.7', cpu: [cpu], license: 'MIT', optional: true, os: [os] };
}
const sorted = {};
for (const k of Object.keys(lock.packages).sort()) sorted[k] = lock.packages[k];
lock.packages = sorted;
fs.writeFileSync(f, JSON.stringify(lock, null, 2) + '\n');
