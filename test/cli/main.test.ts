/**
 * The dispatch table (main.ts) and the man page: every subcommand is in `--help` and in
 * man/wgts.8, the page renders without a groff warning, and the per-subcommand help behaviours
 * are wg's (wg(8); wireguard-tools' wg.c).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WG_COMMANDS, WGTS_COMMANDS, main } from '../../src/cli/main.js';
import { captureStdio } from '../fakes/stdio.js';
import { FakeUapiServer } from '../fakes/uapi-server.js';

const MAN = resolve(import.meta.dirname, '../../man/wgts.8');
const hasGroff = spawnSync('groff', ['--version']).status === 0;

const capture = (argv: string[]) => captureStdio(() => main(argv));

describe('main', () => {
  it('lists every subcommand in --help, in table order, on stdout', async () => {
    const r = await capture(['/usr/bin/wgts', '--help']);
    expect(r.rc).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('Usage: wgts <cmd> [<args>]');
    const listed = lines.filter((l) => l.startsWith('  ')).map((l) => l.trim().split(':')[0]);
    expect(listed).toEqual([...WG_COMMANDS, ...WGTS_COMMANDS].map((c) => c.name));
  });

  it('rejects an unknown subcommand with the usage on stderr', async () => {
    const r = await capture(['wgts', 'Show']);
    expect(r.rc).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.startsWith("Invalid subcommand: `Show'\nUsage: wgts <cmd> [<args>]\n")).toBe(true);
  });

  it.each<[string[], number, RegExp]>([
    [['show', '--help'], 0, /^Usage: wgts show \{ <interface> \| all \| interfaces \} \[/],
    [['show', 'help'], 0, /^Usage: wgts show /],
    [['set', '--help'], 1, /^Usage: wgts set <interface> \[listen-port <port>\]/],
    [['set', 'wg0'], 1, /^Usage: wgts set /],
    [['setconf', '--help'], 1, /^Usage: wgts setconf <interface> <configuration filename>\n$/],
    [['addconf'], 1, /^Usage: wgts addconf <interface> <configuration filename>\n$/],
    [['syncconf', 'a', 'b', 'c'], 1, /^Usage: wgts syncconf <interface> <configuration filename>\n$/],
    [['showconf'], 1, /^Usage: wgts showconf <interface>\n$/],
  ])('%j exits %d with its usage on stderr', async (args, rc, err) => {
    const r = await capture(['wgts', ...args]);
    expect(r.rc).toBe(rc);
    expect(r.out).toBe('');
    expect(r.err).toMatch(err);
  });
});

describe('man/wgts.8', () => {
  const page = readFileSync(MAN, 'utf8');
  it('documents every subcommand of main.ts', () => {
    for (const c of [...WG_COMMANDS, ...WGTS_COMMANDS]) {
      expect(page, c.name).toMatch(new RegExp(`(^\\.B ${c.name}$|^\\\\fB${c.name}\\\\fP)`, 'm'));
    }
  });
  it('documents show --json and its schema fields', () => {
    expect(page).toContain('\\fBshow \\-\\-json\\fP');
    for (const field of ['schema', 'interfaces', 'latestHandshakeAgeSeconds', 'latestHandshakeUnix', 'rxBytes', 'presharedKey'])
      expect(page).toContain(`"${field}"`);
  });
  it.skipIf(!hasGroff)('renders without groff warnings', () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', MAN], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

const BIN = resolve(import.meta.dirname, '../../bin/wgts');
const built = existsSync(resolve(import.meta.dirname, '../../dist/wgts.mjs'));

describe.skipIf(!built)('a closed stdout', () => {
  it('ends quietly with the status of SIGPIPE, like wg under `| head -1`', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'wgts-pipe-'));
    const peers = Array.from({ length: 3000 }, (_, i) => {
      const k = new Uint8Array(32);
      k[0] = i & 0xff;
      k[1] = i >> 8;
      return { publicKey: k, allowedIps: [] };
    });
    const fake = await FakeUapiServer.start(runDir, { name: 'wgm-pipe', peers });
    try {
      // A real pipe into `head -1`, as a user would. (A child's stdout from spawn() is a socketpair
      // whose buffers hold the whole ~250 KB dump, so closing it from here raced with the writer.)
      // The pipe holds 64 KiB and head reads one buffer: the rest of the dump must hit EPIPE.
      const child = spawn('bash', ['-c', `"$0" show wgm-pipe dump | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`, BIN], {
        env: { ...process.env, WGTS_RUN_DIR: runDir },
      });
      let err = '';
      let out = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      await new Promise((r) => child.on('close', r));
      expect(err).toBe('');
      expect(out).toBe('141\n');
    } finally {
      await fake.close();
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
