/**
 * The seam of src/quick/system.ts holds only if every step goes through it: no file of src/quick
 * but system.ts takes a command runner, device access, an ifindex look-up or an rtnetlink operation
 * from its real module — else a unit test on fakes would run a real command or touch the real
 * namespace.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../src/quick');
const REAL: Record<string, RegExp> = {
  '../system/run.js': /\b(cmd|query|haveProgram|hook|foreground)\b/,
  '../system/ipc.js': /\b(backendFor|listDevices|getDevice|setDevice)\b/,
  '../netlink/ifindex.js': /./,
};
const RTNL_IO = /\brtnl\.(getLink|getLinkByIndex|createLink|deleteLink|setLink|addAddress|deleteAddress|listAddresses|addRoute|deleteRoute|listRoutes|getRoute|listRules|addRule|deleteRule|listLinks|wireguardLinks)\(/;

describe('src/quick reaches the system only through system.ts', () => {
  it('imports no runner, device access, ifindex look-up or rtnetlink operation from the real modules', () => {
    const offences: string[] = [];
    for (const name of readdirSync(DIR).filter((n) => n.endsWith('.ts') && n !== 'system.ts')) {
      const text = readFileSync(join(DIR, name), 'utf8');
      for (const m of text.matchAll(/^import (?:type )?\{([^}]*)\} from '([^']+)';/gm)) {
        const real = REAL[m[2]!];
        if (real && m[1]!.split(',').some((n) => real.test(n.replace(/\btype\b/, '').trim().split(' as ')[0]!))) offences.push(`${name}: ${m[0]}`);
      }
      if (/^import \* as \w+ from '\.\.\/system\/(run|ipc)\.js'/m.test(text)) offences.push(`${name}: namespace import of a real module`);
      if (RTNL_IO.test(text)) offences.push(`${name}: ${RTNL_IO.exec(text)![0]}`);
      const rtnlNames = /^import \{([^}]*)\} from '\.\.\/netlink\/rtnl\.js';/m.exec(text)?.[1] ?? '';
      if (/\b(getLink|createLink|deleteLink|setLink|addAddress|deleteAddress|listAddresses|addRoute|deleteRoute|listRoutes|getRoute|listRules|addRule|deleteRule)\b/.test(rtnlNames)) {
        offences.push(`${name}: rtnetlink operation imported from netlink/rtnl.js`);
      }
    }
    expect(offences).toEqual([]);
  });
});
