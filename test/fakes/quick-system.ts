/**
 * The whole outside world of `wgts quick` faked for unit tests: rtnetlink (FakeRtnl), commands and
 * hooks (FakeRunner), the WireGuard device (FakeBackend), interface indexes from the fake links —
 * installed through src/quick/system.ts — and the narration captured line by line. `restore()` puts
 * the real ones back.
 */
import { useQuickSystem } from '../../src/quick/system.js';
import { setNarrator } from '../../src/system/run.js';
import { FakeRtnl } from './rtnl.js';
import { FakeRunner } from './runner.js';
import { FakeBackend } from './wg-backend.js';

export interface FakeQuickSystem {
  rtnl: FakeRtnl;
  runner: FakeRunner;
  backend: FakeBackend;
  /** Every narrated line (`[#] ...`, `[!] ...`), in order. */
  narration: string[];
  /** How many lines were narrated when the first injected failure was thrown. */
  failedAt: number | undefined;
  restore(): void;
}

export function installFakeQuickSystem(): FakeQuickSystem {
  const rtnl = new FakeRtnl();
  const runner = new FakeRunner();
  const isWireguard = (name: string): boolean => rtnl.links.some((l) => l.name === name && l.kind === 'wireguard');
  const backend = new FakeBackend(isWireguard);
  const narration: string[] = [];
  const restoreSystem = useQuickSystem({
    runner,
    rtnl,
    devices: {
      backendFor: async () => backend,
      listDevices: async () => rtnl.links.filter((l) => l.kind === 'wireguard').map((l) => l.name),
      ifindexOfName: (name) => rtnl.links.find((l) => l.name === name)?.index,
    },
  });
  const previousNarrator = setNarrator((line) => narration.push(line));
  const fake: FakeQuickSystem = {
    rtnl,
    runner,
    backend,
    narration,
    failedAt: undefined,
    restore: () => {
      restoreSystem();
      setNarrator(previousNarrator);
    },
  };
  const failed = (): void => {
    fake.failedAt ??= narration.length;
  };
  rtnl.onFail = failed;
  runner.onFail = failed;
  backend.onFail = failed;
  return fake;
}
