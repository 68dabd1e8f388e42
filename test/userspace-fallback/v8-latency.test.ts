/**
 * tuneV8ForLonePackets (src/userspace-fallback/v8-latency.ts): v8.setFlagsFromString ignores a
 * flag it does not know, so a Node release that renamed or dropped it would lose the setting
 * silently. Checked in a child process (V8 flags are per process): a function called once has its
 * feedback vector only with the setting, as V8's own %DebugPrint reports it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src/userspace-fallback/v8-latency.ts');
let dir = '';
let bundle = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wgts-v8-latency-'));
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `import { tuneV8ForLonePackets } from ${JSON.stringify(SRC)};\n` +
      `if (process.argv[2] === 'tuned') tuneV8ForLonePackets();\n` +
      // Compiled after the setting, as the data path's functions are; %-syntax needs new Function.
      `const once = new Function('x', 'return x + 1');\n` +
      `once(1);\n` +
      `new Function('f', '%DebugPrint(f)')(once);\n`,
  );
  bundle = join(dir, 'entry.mjs');
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: bundle, logLevel: 'error' });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function feedbackLine(mode: 'tuned' | 'default'): string {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', bundle, mode], { encoding: 'utf8', timeout: 30_000 });
  const line = out.split('\n').find((l) => l.includes('feedback vector:'));
  expect(line, out).toBeDefined();
  return line!;
}

describe('tuneV8ForLonePackets', () => {
  it('gives a function its feedback vector on the first call', () => {
    expect(feedbackLine('tuned')).toMatch(/feedback vector: 0x[0-9a-f]+/);
  });

  it('is what makes the difference (V8 allocates it lazily by default)', () => {
    expect(feedbackLine('default')).toMatch(/No feedback vector/);
  });
});
