// The graphql-http server audit (the GraphQL over HTTP specification's MUST and SHOULD
// rules) against a real `roster serve` on a fresh SQLite database and a free port.
// Fails on any MUST failure and on any SHOULD warning.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverAudits } from 'graphql-http';

const bin = process.env.ROSTER_BIN;
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'roster-audit-'));
const server = spawn(bin, ['serve'], {
  env: {
    ...process.env,
    DATABASE_URL: `sqlite:${join(dir, 'roster.db')}`,
    ROSTER_LISTEN: `127.0.0.1:${port}`,
    ROSTER_JWT_SECRET: 'http-audit-secret-that-is-at-least-32-bytes',
    ROSTER_MAIL: 'log',
    RUST_LOG: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
let failed = 0;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('roster serve did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const results = [];
  for (const audit of serverAudits({ url: `${base}/graphql` })) {
    results.push({ name: audit.name, ...(await audit.fn()) });
  }
  for (const r of results) {
    const mark = { ok: 'ok  ', notice: 'note', warn: 'WARN', error: 'FAIL' }[r.status];
    console.log(`${mark} ${r.name}${r.status === 'ok' ? '' : ` — ${r.reason}`}`);
  }
  const count = (s) => results.filter((r) => r.status === s).length;
  failed = count('error') + count('warn');
  console.log(`graphql-http audit: ${count('ok')} passed, ${count('error')} MUST failures, ${count('warn')} SHOULD warnings`);
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
