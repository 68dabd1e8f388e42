/**
 * A WireGuard device (kernel device.c + netlink.c's set/get, wireguard-go device.go + uapi.go's
 * semantics): identity, peers, the allowed-IPs table, the index table, DoS state, and the state
 * machine
 *
 *        up()            down()
 *   down ────────► up ────────► down        close() from any state ──► closed (final)
 *
 * It is constructed with a Tun, a Bind and a Clock and does no I/O of its own. Packets read from
 * the TUN while down are dropped; the Bind is opened on up() (or by the first configuration, see
 * ipcSet) and closed on down().
 *
 * Configuration arrives as the shared model (src/conf/model.ts) through ipcSet, with UAPI semantics
 * (wireguard.com/xplatform, `set=1`): the whole request is validated before anything changes, and the result is 0
 * or a negative errno as wireguard-go returns it.
 */
import { EADDRINUSE, EINVAL, EPROTO } from '../conf/errno.js';
import { KEY_LEN, type WgDevice, type WgPeer } from '../conf/model.js';
import { keyIsZero, keyToHex } from '../conf/keys.js';
import { AllowedIps } from './allowedips.js';
import type { Bind } from './bind.js';
import type { Clock } from './clock.js';
import { CookieChecker, mac1Key } from './cookie.js';
import { clamp, importPrivateKey, publicKeyFromPrivate, randomBytes, wipeDataContext } from '../crypto/primitives.js';
import { IndexTable } from './indextable.js';
import { MAX_PEERS, UNDER_LOAD_AFTER_TIME } from './messages.js';
import type { StaticIdentity } from './noise.js';
import { DeviceStats, IndexEntry, Peer, type DeviceCore, type Logger, type PeerSender } from './peer.js';
import { RateLimiter } from './ratelimiter.js';
import { receivePacket, type HandshakeGate } from './receive.js';
import { routeAndSend, sendHandshakeInitiation, sendKeepalive, sendStagedPackets } from './send.js';
import type { Tun } from './tun.js';

export type { Logger } from './peer.js';

/**
 * A queue that runs async operations one at a time, in call order; a failure (the returned promise
 * rejects) does not stop the operations queued after it.
 */
export function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };
}

/**
 * Handshake messages counted per window before the device calls itself under load. wireguard-go
 * measures its handshake queue (1024/8 = 128 waiting); handshakes are consumed inline here, so the
 * equivalent is a rate: more than 128 handshake messages within 1/8 s.
 */
const UNDER_LOAD_THRESHOLD = 128;
const UNDER_LOAD_WINDOW = 125;

/** Dropped-packet log lines per second, at most. */
const DROP_LOGS_PER_SECOND = 10;

const NOOP_LOGGER: Logger = { verbose() {}, error() {} };

function random32(): number {
  const b = randomBytes(4);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

type State = 'down' | 'up' | 'closed';

export class Device implements DeviceCore, HandshakeGate {
  readonly clock: Clock;
  readonly bind: Bind;
  readonly tun: Tun;
  readonly log: Logger;
  /** privateKey is key material. */
  readonly identity: StaticIdentity = { privateKey: null, publicKey: null, imported: null };
  readonly indexTable = new IndexTable<IndexEntry>(random32);
  readonly allowedIps = new AllowedIps<Peer>();
  readonly stats = new DeviceStats();
  readonly sender: PeerSender = { sendHandshakeInitiation, sendKeepalive, sendStagedPackets };
  readonly cookieChecker: CookieChecker;
  readonly rateLimiter: RateLimiter;
  private readonly peers = new Map<string, Peer>();
  private state: State = 'down';
  private listenPort = 0;
  /** The Bind is open: always while up, and from the first configuration until the first up. */
  private bound = false;
  private boundPort = 0;
  private everUp = false;
  private fwmark = 0;
  private underLoadUntil = -Infinity;
  private loadWindowStart = -Infinity;
  private loadCount = 0;
  /** Reused per TUN batch (grouping packets by peer). */
  private readonly batch = new Map<Peer, Uint8Array[]>();
  /** Serialises ipcSet/up/down/close (each awaits the Bind). */
  private readonly serial = serialQueue();

  constructor(opts: { tun: Tun; bind: Bind; clock: Clock; log?: Logger }) {
    this.tun = opts.tun;
    this.bind = opts.bind;
    this.clock = opts.clock;
    this.log = opts.log ?? NOOP_LOGGER;
    this.cookieChecker = new CookieChecker(this.clock);
    this.rateLimiter = new RateLimiter(this.clock);
    this.bind.onReceive((packet, from) => {
      if (this.state === 'up') receivePacket(this, this, packet, from);
    });
    this.tun.start((packets) => {
      if (this.state === 'up') routeAndSend(this, packets, this.batch);
    });
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  peerByKey(pub: Uint8Array): Peer | null {
    return this.peers.get(keyToHex(pub)) ?? null;
  }

  private dropLogWindow = -Infinity;
  private dropLogCount = 0;

  logDrop(msg: string): void {
    const now = this.clock.now();
    if (now - this.dropLogWindow >= 1000) {
      this.dropLogWindow = now;
      this.dropLogCount = 0;
    }
    if (++this.dropLogCount <= DROP_LOGS_PER_SECOND) this.log.verbose(msg);
  }

  /** HandshakeGate: counts a handshake message; true while under load. */
  noteHandshakeAndCheckLoad(): boolean {
    const now = this.clock.now();
    // A Bind with a handshake lane knows its backlog, the kernel's measure of load.
    if (this.bind.underLoad) return this.bind.underLoad(now);
    if (now - this.loadWindowStart > UNDER_LOAD_WINDOW) {
      this.loadWindowStart = now;
      this.loadCount = 0;
    }
    if (++this.loadCount > UNDER_LOAD_THRESHOLD) this.underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
    return now < this.underLoadUntil;
  }

  // ---------------------------------------------------------------- state
  up(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'down') return;
      if (!this.bound) {
        this.boundPort = await this.bind.open(this.listenPort);
        this.bound = true;
        if (this.fwmark) await this.bind.setMark(this.fwmark).catch((e: unknown) => this.log.error(`Unable to set fwmark: ${String(e)}`));
      }
      this.state = 'up';
      this.everUp = true;
      this.log.verbose('Interface state was Down, requested Up, now Up');
      for (const peer of this.peers.values()) this.startPeer(peer);
    });
  }

  down(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'up') return;
      this.state = 'down';
      for (const peer of this.peers.values()) peer.stop();
      this.cookieChecker.clear();
      this.rateLimiter.clear();
      this.bound = false;
      await this.bind.close();
      this.log.verbose('Interface state was Up, requested Down, now Down');
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.state === 'closed') return;
      this.state = 'closed';
      for (const peer of [...this.peers.values()]) this.removePeer(peer);
      this.cookieChecker.clear();
      this.identity.privateKey?.fill(0);
      this.identity.privateKey = null;
      this.identity.imported = null;
      wipeDataContext();
      await this.bind.close();
      await this.tun.close();
    });
  }

  /** On up, or when a peer is added while up: flush staged packets, keepalive if persistent. */
  private startPeer(peer: Peer): void {
    if (peer.persistentKeepaliveInterval > 0) sendKeepalive(peer);
    else peer.sendStaged();
  }

  private removePeer(peer: Peer): void {
    this.peers.delete(keyToHex(peer.publicKey));
    this.allowedIps.removeByPeer(peer);
    peer.destroy();
  }

  // ---------------------------------------------------------------- configuration
  /**
   * Applies a configuration (UAPI set semantics). Returns 0, or a negative errno: −22 (EINVAL) for
   * an invalid request (nothing applied), −71 (EPROTO) for a bad protocol version, −98 (EADDRINUSE)
   * when the listen port cannot be bound or the fwmark cannot be set.
   */
  ipcSet(config: WgDevice): Promise<number> {
    return this.serial(async () => {
      if (this.state === 'closed') return -EINVAL;
      const invalid = this.validate(config);
      if (invalid !== 0) return invalid;

      // Fallible I/O first, so a failure leaves the rest untouched.
      // The first configuration of a device that was never up opens the Bind at once: the kernel
      // binds synchronously with `ip link set up`, but our link-up event arrives later, and hooks run
      // right after it (`PostUp = wg show %i listen-port`, a firewall or UPnP port) need the real
      // port, a random one included. The socket drops what it receives until the device is up.
      const portChanged = config.listenPort !== undefined && config.listenPort !== this.listenPort;
      const firstBind = !this.bound && this.state === 'down' && !this.everUp;
      if ((this.bound && portChanged) || firstBind) {
        try {
          this.boundPort = await this.bind.open(config.listenPort ?? this.listenPort);
        } catch (e) {
          this.log.error(`Failed to set listen_port: ${String(e)}`);
          return -EADDRINUSE; // wireguard-go answers EADDRINUSE for any bind failure
        }
        if (firstBind) {
          this.bound = true;
          if (this.fwmark) await this.bind.setMark(this.fwmark).catch((e: unknown) => this.log.error(`Unable to set fwmark: ${String(e)}`));
        }
      }
      if (config.listenPort !== undefined) this.listenPort = config.listenPort;
      if (config.fwmark !== undefined && config.fwmark !== this.fwmark) {
        if (this.bound) {
          try {
            await this.bind.setMark(config.fwmark);
          } catch (e) {
            this.log.error(`Failed to update fwmark: ${String(e)}`);
            return -EADDRINUSE;
          }
        }
        this.fwmark = config.fwmark;
      }
      if (config.privateKey !== undefined) this.setPrivateKey(config.privateKey);
      if (config.replacePeers) for (const peer of [...this.peers.values()]) this.removePeer(peer);
      for (const p of config.peers) this.applyPeer(p);
      return 0;
    });
  }

  /** Checks a whole request; 0 or a negative errno. Nothing is changed here. */
  private validate(c: WgDevice): number {
    if (c.privateKey !== undefined && c.privateKey.length !== KEY_LEN) return -EINVAL;
    if (c.listenPort !== undefined && !(Number.isInteger(c.listenPort) && c.listenPort >= 0 && c.listenPort <= 65535)) return -EINVAL;
    if (c.fwmark !== undefined && !(Number.isInteger(c.fwmark) && c.fwmark >= 0 && c.fwmark <= 0xffffffff)) return -EINVAL;
    let added = 0;
    for (const p of c.peers) {
      if (!(p.publicKey instanceof Uint8Array) || p.publicKey.length !== KEY_LEN) return -EINVAL;
      if (p.presharedKey !== undefined && p.presharedKey.length !== KEY_LEN) return -EINVAL;
      if (p.protocolVersion !== undefined && p.protocolVersion !== 1) return -EPROTO;
      const ka = p.persistentKeepalive;
      if (ka !== undefined && !(Number.isInteger(ka) && ka >= 0 && ka <= 65535)) return -EINVAL;
      if (p.endpoint !== undefined) {
        const e = p.endpoint;
        if ((e.family !== 4 && e.family !== 6) || !e.host || !(Number.isInteger(e.port) && e.port >= 0 && e.port <= 65535)) return -EINVAL;
      }
      for (const a of p.allowedIps) {
        const len = a.family === 4 ? 4 : a.family === 6 ? 16 : -1;
        if (len < 0 || a.addr.length !== len || !Number.isInteger(a.cidr) || a.cidr < 0 || a.cidr > len * 8) return -EINVAL;
      }
      if (!p.remove && !p.updateOnly && !this.peers.has(keyToHex(p.publicKey))) added++;
    }
    if (!c.replacePeers && this.peers.size + added > MAX_PEERS) return -EINVAL;
    return 0;
  }

  /** Sets (or with all zeros, removes) the private key (wireguard.com/xplatform, `private_key`). */
  private setPrivateKey(key: Uint8Array): void {
    const old = this.identity.privateKey;
    if (keyIsZero(key)) {
      this.identity.privateKey = null;
      this.identity.publicKey = null;
      this.identity.imported = null;
    } else {
      const priv = key.slice(); // key material
      clamp(priv);
      if (old !== null && old.every((b, i) => b === priv[i])) {
        priv.fill(0);
        return; // unchanged: keep sessions
      }
      this.identity.privateKey = priv;
      this.identity.imported = importPrivateKey(priv);
      this.identity.publicKey = publicKeyFromPrivate(this.identity.imported);
      // A peer with our own public key cannot exist.
      const self = this.peerByKey(this.identity.publicKey);
      if (self !== null) this.removePeer(self);
    }
    old?.fill(0);
    this.cookieChecker.init(this.identity.publicKey);
    this.bind.setMac1Key?.(this.identity.publicKey && mac1Key(this.identity.publicKey));
    for (const peer of this.peers.values()) {
      peer.handshake.precompute(this.identity);
      peer.releaseHandshakeIndex();
      peer.handshake.clear();
      peer.keypairs.expireCurrent();
      peer.lastSentHandshake = -Infinity;
    }
  }

  private applyPeer(p: WgPeer): void {
    if (this.identity.publicKey !== null && p.publicKey.every((b, i) => b === this.identity.publicKey![i])) return;
    const hex = keyToHex(p.publicKey);
    let peer = this.peers.get(hex) ?? null;
    if (p.remove) {
      if (peer !== null) this.removePeer(peer);
      return;
    }
    if (p.updateOnly && peer === null) return;
    const created = peer === null;
    if (peer === null) {
      peer = new Peer(this, p.publicKey.slice());
      this.peers.set(hex, peer);
    }
    if (p.presharedKey !== undefined) {
      peer.handshake.presharedKey.set(p.presharedKey);
    }
    if (p.endpoint !== undefined) peer.endpoint = { ...p.endpoint };
    let keepaliveTurnedOn = false;
    if (p.persistentKeepalive !== undefined) {
      keepaliveTurnedOn = peer.persistentKeepaliveInterval === 0 && p.persistentKeepalive > 0;
      peer.persistentKeepaliveInterval = p.persistentKeepalive;
      if (p.persistentKeepalive === 0) peer.timers.persistentKeepalive.del();
    }
    if (p.replaceAllowedIps) this.allowedIps.removeByPeer(peer);
    for (const a of p.allowedIps) {
      if (a.remove) this.allowedIps.remove(a.family, a.addr, a.cidr, peer);
      else this.allowedIps.insert(a.family, a.addr, a.cidr, peer);
    }
    if (this.state === 'up') {
      if (created) this.startPeer(peer);
      else if (keepaliveTurnedOn) sendKeepalive(peer);
      else peer.sendStaged();
    }
  }

  /** The full state: keys, actual listen port, peers with endpoint, handshake time, counters, allowed IPs. */
  ipcGet(): WgDevice {
    const dev: WgDevice = { name: this.tun.name, peers: [] };
    if (this.identity.privateKey !== null) {
      dev.privateKey = this.identity.privateKey.slice();
      dev.publicKey = this.identity.publicKey!.slice();
    }
    const port = this.bound ? this.boundPort : this.listenPort;
    if (port) dev.listenPort = port;
    if (this.fwmark) dev.fwmark = this.fwmark;
    for (const peer of this.peers.values()) {
      const out: WgPeer = {
        publicKey: peer.publicKey.slice(),
        presharedKey: peer.handshake.presharedKey.slice(),
        protocolVersion: 1,
        lastHandshake: { sec: peer.lastHandshakeSec, nsec: peer.lastHandshakeNsec },
        txBytes: BigInt(peer.txBytes),
        rxBytes: BigInt(peer.rxBytes),
        persistentKeepalive: peer.persistentKeepaliveInterval,
        allowedIps: this.allowedIps.entriesForPeer(peer).map((e) => ({ family: e.family, addr: e.addr, cidr: e.cidr })),
      };
      if (peer.endpoint !== null) out.endpoint = { ...peer.endpoint };
      dev.peers.push(out);
    }
    return dev;
  }
}
