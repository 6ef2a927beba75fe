import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.js';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts a real nginx with examples/nginx/nginx.conf as shipped, placeholders filled in; fails loudly if nginx is missing. */
export async function startNginx(vars: { port: number; upstream: string; tether: string; route: string; pdpToken?: string }): Promise<{ stop(): Promise<void>; errors(): string }> {
  if (!NGINX) throw new Error('nginx is not installed: apt-get install nginx-light (.ci/run does this)');
  const prefix = mkdtempSync(join(tmpdir(), 'tether-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d));
  const conf = readFileSync(join(REPO_ROOT, 'examples', 'nginx', 'nginx.conf'), 'utf8')
    .replaceAll('{{NGINX_PORT}}', String(vars.port))
    .replaceAll('{{UPSTREAM}}', vars.upstream)
    .replaceAll('{{TETHER}}', vars.tether)
    .replaceAll('{{ROUTE}}', vars.route)
    .replaceAll('{{PDP_TOKEN}}', vars.pdpToken ?? '')
    .replaceAll('{{PREFIX}}', prefix);
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  const proc: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += String(d)));
  // Wait until it accepts connections.
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await fetch(`http://127.0.0.1:${vars.port}/__ping`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    errors: () => stderr + (existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : ''),
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGQUIT');
      }),
  };
}
