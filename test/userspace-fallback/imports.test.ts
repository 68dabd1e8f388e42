/**
 * The protocol core imports no I/O (style.md "Import direction"): no node:dgram/net/fs/child_process,
 * no global timers, no `process`; and crypto.ts is the only importer of node:crypto and @noble.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../../src/userspace-fallback/', import.meta.url);
const core = ['crypto', 'messages', 'noise', 'cookie', 'replay', 'ratelimiter', 'allowedips', 'indextable', 'timers', 'peer', 'send', 'receive', 'device', 'queue-slab', 'clock', 'bind', 'tun'];

function code(name: string): string {
  // Strip comments so prose may mention what the code must not use.
  return readFileSync(new URL(`${name}.ts`, dir), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

describe('protocol core imports', () => {
  it.each(core)('%s.ts does no I/O of its own', (name) => {
    const src = code(name);
    expect(src).not.toMatch(/from ['"]node:(dgram|net|fs|child_process|worker_threads|os)['"]/);
    expect(src).not.toMatch(/\b(setTimeout|setInterval|setImmediate|process\.)/);
    if (name !== 'crypto') expect(src).not.toMatch(/from ['"](node:crypto|@noble\/[^'"]+)['"]/);
  });
  it('no other source file imports node:crypto or @noble', () => {
    const offenders: string[] = [];
    const walk = (u: URL, rel: string) => {
      for (const e of readdirSync(u, { withFileTypes: true })) {
        if (e.isDirectory()) walk(new URL(`${e.name}/`, u), `${rel}${e.name}/`);
        else if (e.name.endsWith('.ts') && `${rel}${e.name}` !== 'userspace-fallback/crypto.ts') {
          const src = readFileSync(new URL(e.name, u), 'utf8');
          if (/from ['"](node:crypto|crypto|@noble\/[^'"]+)['"]/.test(src)) offenders.push(`${rel}${e.name}`);
        }
      }
    };
    walk(new URL('../../src/', import.meta.url), '');
    expect(offenders).toEqual([]);
  });
});
