/**
 * An in-memory UDP network for Device tests (the role of wireguard-go's conn/bindtest): FakeBinds
 * on one FakeNetwork reach each other by host:port. Datagrams are queued and delivered by `pump()`,
 * so a test decides when the network runs and nothing recurses or sleeps.
 */
import type { Bind } from '../../src/userspace-fallback/bind.js';
import type { WgEndpoint } from '../../src/conf/model.js';

export interface Datagram {
  from: WgEndpoint;
  to: WgEndpoint;
  data: Uint8Array;
}

export class FakeNetwork {
  private readonly binds = new Map<string, FakeBind>();
  queue: Datagram[] = [];
  /** Every datagram ever sent (for assertions). */
  readonly log: Datagram[] = [];
  /** Return false to drop a datagram in flight. */
  filter: (d: Datagram) => boolean = () => true;
  private nextPort = 40000;

  bind(host: string, family: 4 | 6 = 4): FakeBind {
    return new FakeBind(this, host, family);
  }

  /** @internal */ register(b: FakeBind, port: number): number {
    if (port === 0) {
      do port = this.nextPort++;
      while (this.binds.has(`${b.host}:${port}`));
    }
    const k = `${b.host}:${port}`;
    const other = this.binds.get(k);
    if (other && other !== b) throw Object.assign(new Error('address in use'), { code: 'EADDRINUSE' });
    this.binds.set(k, b);
    return port;
  }

  /** @internal */ unregister(b: FakeBind, port: number): void {
    if (this.binds.get(`${b.host}:${port}`) === b) this.binds.delete(`${b.host}:${port}`);
  }

  /** @internal */ enqueue(d: Datagram): void {
    this.log.push(d);
    this.queue.push(d);
  }

  /** Injects a datagram as if sent from `from` (raw packets: replays, garbage). */
  inject(data: Uint8Array, from: WgEndpoint, to: WgEndpoint): void {
    this.enqueue({ from, to, data: data.slice() });
  }

  /** Delivers queued datagrams (and those sent in response) until none is left. Returns how many. */
  pump(max = 100_000): number {
    let n = 0;
    while (this.queue.length && n < max) {
      const d = this.queue.shift()!;
      n++;
      if (!this.filter(d)) continue;
      this.binds.get(`${d.to.host}:${d.to.port}`)?.deliver(d);
    }
    return n;
  }
}

export class FakeBind implements Bind {
  port = 0;
  mark = 0;
  closed = true;
  failNextOpen: string | null = null;
  private cb: ((p: Uint8Array, from: WgEndpoint) => void) | null = null;

  constructor(
    private readonly net: FakeNetwork,
    public host: string,
    readonly family: 4 | 6,
  ) {}

  async open(port: number): Promise<number> {
    if (this.failNextOpen) {
      const code = this.failNextOpen;
      this.failNextOpen = null;
      throw Object.assign(new Error(code), { code });
    }
    const newPort = this.net.register(this, port);
    if (!this.closed && newPort !== this.port) this.net.unregister(this, this.port);
    this.port = newPort;
    this.closed = false;
    return newPort;
  }

  async setMark(mark: number): Promise<void> {
    this.mark = mark;
  }

  send(packets: Uint8Array[], to: WgEndpoint): void {
    if (this.closed) return;
    for (const p of packets) this.net.enqueue({ from: { family: this.family, host: this.host, port: this.port }, to: { ...to }, data: p.slice() });
  }

  onReceive(cb: (packet: Uint8Array, from: WgEndpoint) => void): void {
    this.cb = cb;
  }

  /** Moves this bind to another address (roaming), keeping its port. */
  moveTo(host: string): void {
    if (!this.closed) this.net.unregister(this, this.port);
    this.host = host;
    if (!this.closed) this.net.register(this, this.port);
  }

  /** @internal */ deliver(d: Datagram): void {
    if (!this.closed) this.cb?.(d.data, d.from);
  }

  async close(): Promise<void> {
    if (!this.closed) this.net.unregister(this, this.port);
    this.closed = true;
  }
}

/** Two binds on one network (bindtest's cross-wired pair). */
export function bindPair(): { net: FakeNetwork; a: FakeBind; b: FakeBind } {
  const net = new FakeNetwork();
  return { net, a: net.bind('192.0.2.1'), b: net.bind('192.0.2.2') };
}
