import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { ROOT } from './compiled.js';

export { ROOT };

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `node <file> ...args` in `cwd`; resolve with exit code and output. Killed (and rejected) after timeoutMs. */
export function runScript(file: string, args: readonly string[], o: { cwd: string; timeoutMs: number; onSpawn?: (kill: () => void) => void }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    o.onSpawn?.(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not exit on its own within ${o.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, o.timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run `node dist/<script> ...args` from the repo root; resolve with exit code and output. Killed after timeoutMs. */
export function runNode(script: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runScript(`${ROOT}dist/${script}`, args, { cwd: ROOT, timeoutMs });
}

/** Resolves if a UDP socket can bind 127.0.0.1:port now (whoever had it let go), rejects with the bind error. */
export async function expectUdpPortFree(port: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
  } finally {
    s.close();
  }
}
