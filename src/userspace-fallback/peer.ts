/**
 * Per-peer state and lifecycle (kernel peer.c): identity, handshake, keypair slots, cookie state,
 * endpoint, staged packets, counters and the five timers. What a peer needs from its device is the
 * small `DeviceCore` interface below, so this file depends on no I/O and not on device.ts. The
 * sending steps reach a peer through `DeviceCore.sender` rather than an import of send.ts, which
 * imports this file's types: no cycle, not even a type-only one.
 */
import type { WgEndpoint } from '../conf/model.js';
import { keyToBase64 } from '../conf/keys.js';
import type { AllowedIps } from './allowedips.js';
import type { Bind } from './bind.js';
import type { Clock } from './clock.js';
import { CookieGenerator } from './cookie.js';
import type { IndexTable } from './indextable.js';
import { Handshake, Keypairs, type Keypair, type StaticIdentity } from './noise.js';
import { MAX_STAGED_PACKETS } from './messages.js';
import { PeerTimers, type TimerTarget } from './timers.js';
import type { Tun } from './tun.js';

/** Logger as wireguard-go has it: two printf-like sinks (never given key material). */
export type Logger = { verbose(msg: string): void; error(msg: string): void };

/** An index-table entry: a peer's pending handshake (keypair null) or one of its keypairs. */
export class IndexEntry {
  constructor(
    readonly peer: Peer,
    readonly keypair: Keypair | null,
  ) {}
}

/** Drop and error counters of a device (hostile input is counted, never thrown). */
export class DeviceStats {
  rxDropped = 0;
  rxInvalid = 0;
  rxReplay = 0;
  rxBadSource = 0;
  txNoRoute = 0;
  txNoEndpoint = 0;
  handshakesDropped = 0;
  cookieRepliesSent = 0;
}

/** The sending steps a peer starts itself (its timers, its staged packets): send.ts's, given by the device. */
export interface PeerSender {
  sendHandshakeInitiation(peer: Peer, isRetry: boolean): void;
  sendKeepalive(peer: Peer): void;
  sendStagedPackets(peer: Peer): void;
}

/** What peers, send.ts and receive.ts use of their device. */
export interface DeviceCore {
  readonly clock: Clock;
  readonly bind: Bind;
  readonly tun: Tun;
  readonly log: Logger;
  readonly identity: StaticIdentity;
  readonly indexTable: IndexTable<IndexEntry>;
  readonly allowedIps: AllowedIps<Peer>;
  readonly stats: DeviceStats;
  readonly isUp: boolean;
  readonly sender: PeerSender;
  /** The peer whose static public key is `pub`, or null. */
  peerByKey(pub: Uint8Array): Peer | null;
  /** Logs why a packet was dropped, at most a few lines per second (hostile input must not flood the log). */
  logDrop(msg: string): void;
}

export class Peer implements TimerTarget {
  readonly handshake: Handshake;
  readonly keypairs: Keypairs;
  readonly cookieGenerator: CookieGenerator;
  readonly timers: PeerTimers;
  /** The pending handshake's index-table entry (one per peer, reused). */
  readonly handshakeEntry: IndexEntry;
  endpoint: WgEndpoint | null = null;
  persistentKeepaliveInterval = 0;
  /** Packets waiting for a usable keypair (copies; oldest dropped first beyond MAX_STAGED_PACKETS). */
  staged: Uint8Array[] = [];
  rxBytes = 0;
  txBytes = 0;
  lastHandshakeSec = 0n;
  lastHandshakeNsec = 0;
  /** Monotonic ms of the last initiation or response we sent (1 per REKEY_TIMEOUT). */
  lastSentHandshake = -Infinity;
  /** False once removed: late callbacks then do nothing. */
  alive = true;
  /** Short printable name: wireguard-go's `peer(AbCd…WxYz)`. */
  readonly name: string;

  constructor(
    readonly device: DeviceCore,
    readonly publicKey: Uint8Array,
  ) {
    this.handshake = new Handshake(publicKey);
    this.handshake.precompute(device.identity);
    this.keypairs = new Keypairs((kp) => {
      const e = device.indexTable.lookup(kp.localIndex);
      if (e !== undefined && e.keypair === kp) device.indexTable.remove(kp.localIndex);
    });
    this.cookieGenerator = new CookieGenerator(publicKey, device.clock);
    this.timers = new PeerTimers(device.clock, this);
    this.handshakeEntry = new IndexEntry(this, null);
    const b64 = keyToBase64(publicKey);
    this.name = `peer(${b64.slice(0, 4)}…${b64.slice(39, 43)})`;
  }

  // ---- TimerTarget ----
  get canRun(): boolean {
    return this.alive && this.device.isUp;
  }

  sendHandshakeInitiation(isRetry: boolean): void {
    this.device.sender.sendHandshakeInitiation(this, isRetry);
  }

  sendKeepalive(): void {
    this.device.sender.sendKeepalive(this);
  }

  clearEndpointSource(): void {
    // The Bind chooses the source address; there is no sticky source cached here.
  }

  purgeStagedPackets(): void {
    this.staged = [];
  }

  zeroKeyMaterial(): void {
    this.releaseHandshakeIndex();
    this.handshake.clear();
    this.keypairs.clear();
  }

  verbose(msg: string): void {
    this.device.log.verbose(`${this.name} - ${msg}`);
  }

  // ---- staging ----
  /** Queues a copy of `packet` (oldest dropped beyond the cap). */
  stage(packet: Uint8Array): void {
    if (this.staged.length >= MAX_STAGED_PACKETS) this.staged.shift();
    this.staged.push(packet.slice());
  }

  /** Sends what is staged if a keypair allows, else starts a handshake. */
  sendStaged(): void {
    this.device.sender.sendStagedPackets(this);
  }

  // ---- index table ----
  /** Gives the handshake a fresh local index, releasing its previous one if still held. */
  allocHandshakeIndex(): number {
    this.releaseHandshakeIndex();
    return this.device.indexTable.add(this.handshakeEntry);
  }

  releaseHandshakeIndex(): void {
    if (this.handshake.localIndex !== 0) this.device.indexTable.remove(this.handshake.localIndex, this.handshakeEntry);
  }

  /** Installs a freshly derived keypair: its index now names the keypair (handshake index reused). */
  installKeypair(kp: Keypair): void {
    this.device.indexTable.replace(kp.localIndex, new IndexEntry(this, kp));
    this.keypairs.add(kp);
  }

  /** Records the wall-clock time of a completed handshake (UAPI last_handshake_time). */
  recordHandshakeTime(): void {
    const w = this.device.clock.wallclock();
    this.lastHandshakeSec = w.sec;
    this.lastHandshakeNsec = w.nsec;
  }

  /** Device going down or peer removed: stop timers, drop packets, wipe sessions. */
  stop(): void {
    this.timers.stopAll();
    this.purgeStagedPackets();
    this.zeroKeyMaterial();
    this.lastSentHandshake = -Infinity; // so the first packet after up handshakes at once
  }

  /** Peer removed: stop, and wipe everything it held. */
  destroy(): void {
    this.alive = false;
    this.stop();
    this.handshake.destroy();
    this.cookieGenerator.clear();
  }
}
