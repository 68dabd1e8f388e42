/**
 * `wgts registry export` into real authoritative servers (Debian's nsd and Knot), in a network
 * namespace: for every peer the server's PTR/SRV/A/TXT answers (ISC dig) equal those of `wgts
 * registry serve` on the same device; an endpoint changed on the device is answered by the server
 * within one export interval; `wgts registry discover` pointed at the server sets the endpoints
 * as it does against the registry. nsd loads the zone file (reload by SIGHUP); Knot takes RFC 2136
 * updates signed with TSIG, and refuses them with a wrong key. Skipped without root, dig, nsd/knotd.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SLOWDOWN, SUITE_TIMEOUT, labAvailable, waitFor, type Impl } from './lab.js';
import { nsdConf } from '../../../scripts/lib/nsd-conf.mjs';

const IMPL: Impl = labAvailable('wgts-userspace') ? 'wgts-userspace' : 'wireguard-go';
const has = (cmd: string, arg = '-v') => spawnSync(cmd, [arg]).error === undefined;
const READY = labAvailable(IMPL) && has('dig') && has('nsd') && has('knotd', '-V');
const ZONE = 'fleet.test';
const SVC = `_wireguard._udp.${ZONE}`;
const NSD = '127.0.0.1';
const REGISTRY = '127.0.0.2';
const KNOT = '127.0.0.3';
const PEERS = 12;
/** Seconds between export passes. */
const INTERVAL = 2;

describe.skipIf(!READY)(`registry export into nsd and Knot (${IMPL})`, () => {
  const lab = new Lab();
  const R = lab.ifname('r');
  const D = lab.ifname('d');
  const N = lab.ifname('n');
  const keys: string[] = [];
  let exporter: ReturnType<Lab['spawn']>;
  let knot: ReturnType<Lab['spawn']>;

  /** `dig` answer lines (owner, TTL, class, type, data), sorted: servers order RRsets as they like. */
  async function answers(server: string, name: string, type: string): Promise<string[]> {
    const out = await lab.exec('reg', ['dig', `@${server}`, '+norecurse', '+tries=1', '+time=2', '+noall', '+answer', name, type]);
    return out.trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/).join(' ')).sort();
  }

  const instance = (b64: string) =>
    `${spawnSync('base32', ['-w0'], { input: Buffer.from(b64, 'base64') }).stdout.toString().trim().toLowerCase()}.${SVC}`;

  async function expectSameAnswers(server: string): Promise<void> {
    expect(await answers(server, SVC, 'PTR')).toEqual(await answers(REGISTRY, SVC, 'PTR'));
    expect((await answers(server, SVC, 'PTR')).length).toBe(PEERS - 1);
    for (const key of keys) {
      for (const type of ['SRV', 'A', 'TXT']) {
        expect(await answers(server, instance(key), type), `${type} ${key}`).toEqual(await answers(REGISTRY, instance(key), type));
      }
    }
  }

  beforeAll(async () => {
    await lab.addNamespaces('reg');
    await lab.wgDevice('reg', R, IMPL, '10.9.0.254/24');
    await lab.wgDevice('reg', D, IMPL, '10.9.1.254/24');
    await lab.wgDevice('reg', N, IMPL, '10.9.2.254/24');
    const set = ['set', R];
    for (let i = 1; i <= PEERS; i++) {
      const { publicKey } = await lab.keypair(`p${i}`);
      keys.push(publicKey);
      // The last peer has no endpoint: it is published nowhere.
      set.push('peer', publicKey, 'allowed-ips', `10.9.0.${i}/32,fd09::${i}/128`, ...(i < PEERS ? ['endpoint', `198.51.100.${i}:${40000 + i}`] : []));
    }
    await lab.wg('reg', set);
    // The node that discovers: the same peers, no endpoints.
    await lab.wg('reg', ['set', D, ...keys.flatMap((k, i) => ['peer', k, 'allowed-ips', `10.9.0.${i + 1}/32`])]);
    lab.spawn('reg', [...lab.wgts(), 'registry', 'serve', R, '--zone', ZONE, '--listen', `${REGISTRY}:53`]);
    await waitFor('the registry to answer', 10_000, async () => (await answers(REGISTRY, SVC, 'PTR')).length === PEERS - 1);
  }, SUITE_TIMEOUT);
  afterAll(() => lab.close(), SUITE_TIMEOUT);

  describe('zone file, nsd', () => {
    const zoneFile = () => join(lab.dir, `${ZONE}.zone`);
    const pidFile = () => join(lab.dir, 'nsd.pid');

    beforeAll(async () => {
      // The first zone file must exist before nsd starts (it would serve SERVFAIL otherwise).
      await lab.exec('reg', [...lab.wgts(), 'registry', 'export', R, '--zone', ZONE, '--zone-file', zoneFile(), '--ns', 'ns1.example.net']);
      writeFileSync(join(lab.dir, 'nsd.conf'), nsdConf({ dir: lab.dir, address: NSD, zone: ZONE, zoneFile: zoneFile(), pidFile: pidFile() }));
      lab.spawn('reg', ['nsd', '-d', '-c', join(lab.dir, 'nsd.conf')]);
      await waitFor('nsd to serve the zone', 10_000, async () => (await answers(NSD, SVC, 'PTR')).length === PEERS - 1);
      exporter = lab.spawn('reg', [
        ...lab.wgts(), 'registry', 'export', R, '--zone', ZONE, '--zone-file', zoneFile(), '--ns', 'ns1.example.net',
        '--interval', String(INTERVAL), '--reload', `kill -HUP $(cat ${pidFile()})`,
      ]);
    }, SUITE_TIMEOUT);

    it('nsd answers PTR, SRV, A and TXT for every peer as the registry does', async () => {
      await expectSameAnswers(NSD);
    });

    it('answers a changed endpoint within one export interval, with the serial one higher', async () => {
      const serial = () => Number(/ IN SOA \S+ \S+ (\d+) /.exec(readFileSync(zoneFile(), 'utf8'))![1]);
      const before = serial();
      await lab.wg('reg', ['set', R, 'peer', keys[0]!, 'endpoint', '192.0.2.77:51999']);
      const t0 = Date.now();
      await waitFor('nsd to answer the new endpoint', INTERVAL * 1000 + 1000, async () =>
        (await answers(NSD, instance(keys[0]!), 'SRV')).some((l) => l.endsWith(`0 0 51999 ${instance(keys[0]!)}.`)),
      );
      expect(Date.now() - t0).toBeLessThan((INTERVAL * 1000 + 1000) * SLOWDOWN);
      expect(await answers(NSD, instance(keys[0]!), 'A')).toEqual([`${instance(keys[0]!)}. 0 IN A 192.0.2.77`]);
      expect(serial()).toBe(before + 1);
      await expectSameAnswers(NSD);
      expect(lab.output(exporter)).not.toMatch(/failed|error/i);
    });

    it('discover pointed at nsd sets the endpoints the registry device sees', async () => {
      await lab.exec('reg', [...lab.wgts(), 'registry', 'discover', D, '--registry', NSD, '--zone', ZONE]);
      const want = new Map((await lab.peers('reg', R)).map((p) => [p.publicKey, p.endpoint]));
      const got = await lab.peers('reg', D);
      expect(got.length).toBe(PEERS);
      for (const p of got) expect(p.endpoint, p.publicKey).toBe(want.get(p.publicKey));
    });

    it('discover --add-new pointed at nsd adds the listed peers with the allowed IPs of their TXT records', async () => {
      // nsd answers SRV without the TXT record: discover asks for it.
      await lab.exec('reg', [...lab.wgts(), 'registry', 'discover', N, '--registry', NSD, '--zone', ZONE, '--add-new', '--keepalive', '0']);
      const dump = (await lab.wg('reg', ['show', N, 'allowed-ips'])).trim().split('\n').map((l) => l.split('\t'));
      expect(dump.length).toBe(PEERS - 1);
      for (const [key, allowed] of dump) {
        const i = keys.indexOf(key!) + 1;
        expect(allowed, key).toBe(`10.9.0.${i}/32 fd09::${i}/128`);
      }
    });
  });

  describe('RFC 2136 updates with TSIG, Knot', () => {
    const secret = Buffer.alloc(32, 7).toString('base64');
    const knotConf = () => join(lab.dir, 'knot.conf');

    beforeAll(async () => {
      writeFileSync(join(lab.dir, 'knot.zone'), `${ZONE}. 3600 IN SOA ns1.example.net. hostmaster.${ZONE}. 1 3600 600 1209600 60\n${ZONE}. 3600 IN NS ns1.example.net.\n`);
      writeFileSync(
        knotConf(),
        `server:
  rundir: "${lab.dir}"
  listen: ${KNOT}@53
log:
  - target: stderr
    any: warning
database:
  storage: "${lab.dir}/knotdb"
key:
  - id: upd.key
    algorithm: hmac-sha256
    secret: ${secret}
acl:
  - id: update
    key: upd.key
    action: update
zone:
  - domain: ${ZONE}
    storage: "${lab.dir}"
    file: knot.zone
    acl: update
`,
      );
      // Our key file in the form BIND's tsig-keygen writes.
      writeFileSync(join(lab.dir, 'upd.key'), `key "upd.key" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`, { mode: 0o600 });
      writeFileSync(join(lab.dir, 'bad.key'), `key "upd.key" {\n\talgorithm hmac-sha256;\n\tsecret "${Buffer.alloc(32, 8).toString('base64')}";\n};\n`, { mode: 0o600 });
      mkdirSync(join(lab.dir, 'knotdb'));
      knot = lab.spawn('reg', ['knotd', '-c', knotConf()]);
      await waitFor('Knot to serve the zone', 10_000, async () => (await answers(KNOT, ZONE, 'SOA')).length === 1);
    }, SUITE_TIMEOUT);

    const exportOnce = (key: string) =>
      lab.exec('reg', [...lab.wgts(), 'registry', 'export', R, '--zone', ZONE, '--update', KNOT, '--tsig-key', join(lab.dir, key)]);

    it('refuses an update signed with the wrong key, and changes nothing', async () => {
      await expect(exportOnce('bad.key')).rejects.toThrow(/NOTAUTH|BADSIG|signature/);
      expect(await answers(KNOT, SVC, 'PTR')).toEqual([]);
    });

    it('Knot answers as the registry after an update, and after a change', async () => {
      expect(await exportOnce('upd.key')).toMatch(/all records/);
      await expectSameAnswers(KNOT);
    });

    it('a running export sends only the difference, and Knot answers it within one interval', async () => {
      const loop = lab.spawn('reg', [
        ...lab.wgts(), 'registry', 'export', R, '--zone', ZONE, '--update', KNOT, '--tsig-key', join(lab.dir, 'upd.key'), '--interval', String(INTERVAL),
      ]);
      await waitFor('the first pass', 10_000, async () => /all records/.test(lab.output(loop)));
      await lab.wg('reg', ['set', R, 'peer', keys[1]!, 'endpoint', '192.0.2.88:52000']);
      await waitFor('Knot to answer the new endpoint', INTERVAL * 1000 + 1000, async () =>
        (await answers(KNOT, instance(keys[1]!), 'SRV')).some((l) => l.endsWith(`0 0 52000 ${instance(keys[1]!)}.`)),
      );
      // Old SRV and A deleted, new ones added: four records in one message.
      expect(lab.output(loop)).toMatch(/updated fleet\.test \(4 changes, 1 message,/);
      await expectSameAnswers(KNOT);
      expect(lab.output(loop)).not.toMatch(/failed|refused|error/i);
      expect(lab.output(knot)).not.toMatch(/error/i);
    });
  });
});
