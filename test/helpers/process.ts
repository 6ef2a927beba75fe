import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { CLI } from './repo.js';

export interface ServeProcess {
  url: string;
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `tether serve` as a real process and waits until it is listening. */
export async function spawnServe(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 30000): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, TETHER_ADMIN_TOKEN: undefined, TETHER_DATABASE_URL: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (out += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /"address":"(http:\/\/[^"]+)"[^\n]*tether is serving/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    proc,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        // A process already gone (exited, or killed by a signal: exitCode stays null then) never exits again.
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
}

/** Runs a CLI command to completion. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, TETHER_ADMIN_TOKEN: undefined, TETHER_DATABASE_URL: undefined, ...env } as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 60000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like runCli, without blocking the event loop (needed when the broker runs in this process). */
export function runCliAsync(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, TETHER_ADMIN_TOKEN: undefined, TETHER_DATABASE_URL: undefined, ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += String(d)));
    p.stderr!.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
