import { describe, expect, it } from 'vitest';
import { PeerTimers, Timer, type TimerTarget } from '../../src/userspace-fallback/timers.js';
import { ManualClock } from '../fakes/clock.js';

function target(): TimerTarget & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    canRun: true,
    persistentKeepaliveInterval: 0,
    sendHandshakeInitiation: (retry) => log.push(retry ? 'init-retry' : 'init'),
    sendKeepalive: () => log.push('keepalive'),
    clearEndpointSource: () => {},
    purgeStagedPackets: () => log.push('purge'),
    zeroKeyMaterial: () => log.push('zero'),
    verbose: () => {},
  };
}

describe('Timer', () => {
  it('mod to a later deadline defers without rescheduling; del disarms, cancel releases the callback', () => {
    const c = new ManualClock();
    let n = 0;
    const t = new Timer(c, () => n++);
    t.mod(100);
    c.advance(50);
    t.mod(100); // now due at 150
    c.advance(60);
    expect(n).toBe(0);
    c.advance(40);
    expect(n).toBe(1);
    expect(t.pending).toBe(false);
    t.mod(10);
    t.del();
    c.advance(100);
    expect(n).toBe(1);
    t.mod(100);
    t.mod(10); // earlier: rescheduled
    c.advance(10);
    expect(n).toBe(2);
    expect(c.pendingCount).toBe(0);
    t.mod(50);
    t.del();
    expect(c.pendingCount).toBe(1); // lazy
    t.cancel();
    expect(c.pendingCount).toBe(0);
  });
});

describe('PeerTimers (the WireGuard paper §6)', () => {
  it('retransmits 19 times (20 initiations in all) with jitter 0, then gives up and zeroes keys after 540 s', () => {
    const c = new ManualClock(), p = target();
    const timers = new PeerTimers(c, p, () => 0);
    // The target re-arms on each (re)send as the real peer does.
    p.sendHandshakeInitiation = (retry) => { p.log.push(retry ? 'init-retry' : 'init'); timers.handshakeInitiated(); };
    p.sendHandshakeInitiation(false);
    c.advance(5000 * 20);
    expect(p.log.filter((x) => x === 'init-retry').length).toBe(19);
    expect(p.log.at(-1)).toBe('purge');
    c.advance(540_000);
    expect(p.log.at(-1)).toBe('zero');
  });
  it('passive keepalive 10 s after data received, cancelled by anything sent; new handshake 15 s after data sent', () => {
    const c = new ManualClock(), p = target();
    const t = new PeerTimers(c, p, () => 0);
    t.dataReceived();
    c.advance(9_999);
    expect(p.log).toEqual([]);
    c.advance(1);
    expect(p.log).toEqual(['keepalive']);
    t.dataReceived();
    t.anyAuthenticatedPacketSent();
    c.advance(20_000);
    expect(p.log).toEqual(['keepalive']);
    t.dataSent();
    c.advance(14_000);
    t.dataSent(); // does not push it back
    c.advance(1_000);
    expect(p.log).toEqual(['keepalive', 'init']);
    t.dataSent();
    t.anyAuthenticatedPacketReceived();
    c.advance(20_000);
    expect(p.log).toEqual(['keepalive', 'init']);
  });
  it('persistent keepalive re-armed by traffic', () => {
    const c = new ManualClock(), p = target();
    p.persistentKeepaliveInterval = 25;
    const t = new PeerTimers(c, p, () => 0);
    p.sendKeepalive = () => { p.log.push('keepalive'); t.anyAuthenticatedPacketTraversal(); };
    t.anyAuthenticatedPacketTraversal();
    c.advance(20_000);
    t.anyAuthenticatedPacketTraversal();
    c.advance(20_000);
    expect(p.log).toEqual([]);
    c.advance(5_000);
    expect(p.log).toEqual(['keepalive']);
    c.advance(50_000);
    expect(p.log).toEqual(['keepalive', 'keepalive', 'keepalive']);
    t.stopAll();
    expect(c.pendingCount).toBe(0);
  });
});
