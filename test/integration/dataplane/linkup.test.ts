/**
 * The device follows its interface's IFF_UP as the kernel announces it (rtnetlink RTMGRP_LINK, see
 * tun-linux.ts), not on a poll: `ip link set up` on both ends and an immediate single ping must get
 * its reply. With a 250 ms poll the ping met a device still down (dropped) or a peer without a bound
 * socket (initiation lost, the retry comes after REKEY_TIMEOUT = 5 s, past the ping's deadline).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, run, waitFor } from '../helpers/netns.js';
import { type Side, makePair } from './fixture.js';

/** `ss -uln` for the side's port in its namespace: is the UDP socket bound? */
async function bound(s: Side): Promise<boolean> {
  return (await s.ns.run(['ss', '-Huln', `sport = :${s.port}`])).stdout.includes(`:${s.port}`);
}

describe('wgts-userspace follows link up/down without delay', () => {
  const lab = new Lab('wgd');
  let a: Side;
  let b: Side;

  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'wgts', { up: false });
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('before the first up, a configured device already has its socket (so PostUp hooks see the port)', async () => {
    // device.ts: the first configuration binds; the socket drops what it receives until link up.
    expect(await bound(a)).toBe(true);
    expect(await bound(b)).toBe(true);
  });

  it('links up on both ends, then at once one ping with a 3 s deadline: the reply arrives', async () => {
    // One shell, as a user would type it (and as scripts/demo.sh does): no wait between the steps.
    const r = await run(['bash', '-c', [
      `ip -n ${a.ns.name} link set ${a.ifname} up`,
      `ip -n ${b.ns.name} link set ${b.ifname} up`,
      `ip netns exec ${a.ns.name} ping -n -c 1 -W 3 ${b.inner4}`,
    ].join(' && ')], { check: false });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('link down closes the socket, link up binds it again, and traffic resumes', async () => {
    await b.ns.ip(['link', 'set', b.ifname, 'down']);
    await waitFor(async () => !(await bound(b)), { timeout: 2000, what: 'socket closed after link down' });
    await b.ns.ip(['link', 'set', b.ifname, 'up']);
    await waitFor(() => bound(b), { timeout: 2000, what: 'socket bound after link up' });
    // b's sessions went with the down; a's are stale, so this ping needs a new handshake (initiated by b).
    await b.ns.run(['ping', '-n', '-c', '1', '-W', '3', a.inner4]);
  });
});
