/**
 * The whole outside world of `wgts quick` faked for unit tests: rtnetlink (FakeRtnl), commands and
 * hooks (FakeRunner), the WireGuard device (FakeBackend), interface indexes from the fake links —
 * installed through src/quick/system.ts — and the narration captured line by line. `restore()` puts
 * the real ones back.
 */
import { RT_TABLE_MAIN, RTN_UNICAST } from '../../src/netlink/rtnl.js';
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

/**
 * A namespace as most tests want it: an uplink `name` (MTU `mtu`) carrying the IPv4 default route,
 * the given programs in PATH, and every sysctl reading 0.
 */
export function installFakeHost(name: string, mtu: number, programs: string[]): FakeQuickSystem {
  const sys = installFakeQuickSystem();
  const uplink = sys.rtnl.addLink(name, 'veth', mtu);
  sys.rtnl.routes.push({ family: 4, dst: { family: 4, addr: new Uint8Array(4), len: 0 }, table: RT_TABLE_MAIN, oif: uplink.index, type: RTN_UNICAST });
  for (const p of programs) sys.runner.programs.add(p);
  sys.runner.answer = (argv) => (argv[0] === 'sysctl' ? { stdout: '0\n' } : undefined);
  return sys;
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
