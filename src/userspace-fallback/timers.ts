/**
 * The five per-peer timers, following the kernel's timers.c (wireguard-go's timers.go mirrors it;
 * the WireGuard paper §6), on the injected Clock:
 *
 * - retransmitHandshake: armed when an initiation is sent (REKEY_TIMEOUT + jitter); resends it, and
 *   after MAX_TIMER_HANDSHAKES retries gives up (drops staged packets, schedules key zeroing).
 * - sendKeepalive: armed when authenticated data (not a keepalive) arrives (KEEPALIVE_TIMEOUT);
 *   sends a keepalive so the peer knows we got it. Cancelled by anything we send.
 * - newHandshake: armed when we send data (KEEPALIVE + REKEY_TIMEOUT + jitter); if nothing came
 *   back by then, start a new handshake. Cancelled by anything authenticated we receive.
 * - zeroKeyMaterial: armed when a session is derived (3 × REJECT_AFTER_TIME); wipes all keys.
 * - persistentKeepalive: re-armed on every authenticated packet in either direction when the
 *   interval is non-zero; sends a keepalive.
 *
 * Hooks are named for the event that arms them (`dataSent`, `anyAuthenticatedPacketReceived`, ...):
 * call each right after the event it names. Expiry handlers are `expired*`; they call back into the
 * peer through `TimerTarget`.
 */
import type { Clock, TimerHandle } from './clock.js';
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
  ZERO_KEY_MATERIAL_TIMEOUT,
} from './messages.js';

/**
 * One timer with kernel mod_timer/del_timer semantics, cheap on the data path: re-arming to a later
 * deadline (persistent keepalive pushed back by every packet) only moves a number, and `del` only
 * clears it (the new-handshake timer is armed by every send and deleted by every receive in a TCP
 * flow). The clock callback, when it fires early or for a deleted timer, re-schedules itself for
 * the remaining time or does nothing. `cancel` also releases the clock's callback.
 */
export class Timer {
  private handle: TimerHandle | null = null;
  private scheduledFor = 0;
  private deadline = -1;

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  /** True while armed. */
  get pending(): boolean {
    return this.deadline >= 0;
  }

  /** (Re)arms the timer to fire `ms` from now. */
  mod(ms: number): void {
    const now = this.clock.now();
    this.deadline = now + ms;
    if (this.handle !== null && this.scheduledFor <= this.deadline) return; // fires early, then re-schedules
    this.arm(now);
  }

  /** Disarms the timer (lazily: a scheduled callback stays and will do nothing). */
  del(): void {
    this.deadline = -1;
  }

  /** Disarms the timer and cancels the scheduled callback (peer stopped or removed). */
  cancel(): void {
    this.deadline = -1;
    if (this.handle !== null) {
      this.handle.cancel();
      this.handle = null;
    }
  }

  private arm(now: number): void {
    if (this.handle !== null) this.handle.cancel();
    this.scheduledFor = this.deadline;
    this.handle = this.clock.schedule(Math.max(0, this.deadline - now), () => this.fire());
  }

  private fire(): void {
    this.handle = null;
    if (this.deadline < 0) return;
    const now = this.clock.now();
    if (now < this.deadline) {
      this.arm(now);
      return;
    }
    this.deadline = -1;
    this.fn();
  }
}

/** What the timers need from their peer. */
export interface TimerTarget {
  /** Whether the device is up and the peer can send (timers do nothing otherwise). */
  readonly canRun: boolean;
  persistentKeepaliveInterval: number; // seconds, 0 = off
  /** Sends an initiation; `isRetry` keeps the attempt count. */
  sendHandshakeInitiation(isRetry: boolean): void;
  sendKeepalive(): void;
  /** Forgets the cached local source address (no-op here: Bind picks the source). */
  clearEndpointSource(): void;
  /** Drops staged packets (handshake gave up). */
  purgeStagedPackets(): void;
  /** Clears handshake state and destroys all keypairs. */
  zeroKeyMaterial(): void;
  verbose(msg: string): void;
}

export class PeerTimers {
  readonly retransmitHandshake: Timer;
  readonly sendKeepalive: Timer;
  readonly newHandshake: Timer;
  readonly zeroKeyMaterial: Timer;
  readonly persistentKeepalive: Timer;
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;

  constructor(
    clock: Clock,
    private readonly peer: TimerTarget,
    private readonly jitter: () => number = () => Math.floor(Math.random() * REKEY_TIMEOUT_JITTER_MAX),
  ) {
    this.retransmitHandshake = new Timer(clock, () => this.expiredRetransmitHandshake());
    this.sendKeepalive = new Timer(clock, () => this.expiredSendKeepalive());
    this.newHandshake = new Timer(clock, () => this.expiredNewHandshake());
    this.zeroKeyMaterial = new Timer(clock, () => this.expiredZeroKeyMaterial());
    this.persistentKeepalive = new Timer(clock, () => this.expiredPersistentKeepalive());
  }

  // ---- expiry handlers ----
  private expiredRetransmitHandshake(): void {
    if (!this.peer.canRun) return;
    if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      this.peer.verbose(`handshake did not complete after ${MAX_TIMER_HANDSHAKES + 2} attempts, giving up`);
      this.sendKeepalive.del();
      this.peer.purgeStagedPackets();
      // We drop all packets without a keypair and do not try again; zero what is left soon.
      if (!this.zeroKeyMaterial.pending) this.zeroKeyMaterial.mod(ZERO_KEY_MATERIAL_TIMEOUT);
      return;
    }
    this.handshakeAttempts++;
    this.peer.verbose(`handshake did not complete after ${REKEY_TIMEOUT / 1000} seconds, retrying (try ${this.handshakeAttempts + 1})`);
    this.peer.clearEndpointSource();
    this.peer.sendHandshakeInitiation(true);
  }

  private expiredSendKeepalive(): void {
    if (!this.peer.canRun) return;
    this.peer.sendKeepalive();
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.sendKeepalive.mod(KEEPALIVE_TIMEOUT);
    }
  }

  private expiredNewHandshake(): void {
    if (!this.peer.canRun) return;
    this.peer.verbose(`retrying handshake because we stopped hearing back after ${(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) / 1000} seconds`);
    this.peer.clearEndpointSource();
    this.peer.sendHandshakeInitiation(false);
  }

  private expiredZeroKeyMaterial(): void {
    this.peer.verbose('removing all keys, since we have not received a new one in 540 seconds');
    this.peer.zeroKeyMaterial();
  }

  private expiredPersistentKeepalive(): void {
    if (!this.peer.canRun) return;
    if (this.peer.persistentKeepaliveInterval > 0) this.peer.sendKeepalive();
  }

  // ---- hooks, each called right after the event it names ----
  /** After sending a data packet (not a keepalive). */
  dataSent(): void {
    if (!this.newHandshake.pending) this.newHandshake.mod(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.jitter());
  }

  /** After receiving an authenticated data packet that is not a keepalive. */
  dataReceived(): void {
    if (!this.peer.canRun) return;
    if (!this.sendKeepalive.pending) this.sendKeepalive.mod(KEEPALIVE_TIMEOUT);
    else this.needAnotherKeepalive = true;
  }

  /** After sending any authenticated packet (data, keepalive, handshake). */
  anyAuthenticatedPacketSent(): void {
    if (this.sendKeepalive.pending) this.sendKeepalive.del();
  }

  /** After receiving any authenticated packet (data, keepalive, handshake). */
  anyAuthenticatedPacketReceived(): void {
    if (this.newHandshake.pending) this.newHandshake.del();
  }

  /** After sending or receiving any authenticated packet. */
  anyAuthenticatedPacketTraversal(): void {
    const iv = this.peer.persistentKeepaliveInterval;
    if (iv > 0 && this.peer.canRun) this.persistentKeepalive.mod(iv * 1000);
  }

  /** After sending a handshake initiation. */
  handshakeInitiated(): void {
    this.retransmitHandshake.mod(REKEY_TIMEOUT + this.jitter());
  }

  /** After a handshake completes (initiator: response consumed; responder: first data on `next`). */
  handshakeComplete(): void {
    this.retransmitHandshake.del();
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** After a session's keys are derived (response created or consumed). */
  sessionDerived(): void {
    this.zeroKeyMaterial.mod(ZERO_KEY_MATERIAL_TIMEOUT);
  }

  /** Stops every timer (peer removed or device down). */
  stopAll(): void {
    this.retransmitHandshake.cancel();
    this.sendKeepalive.cancel();
    this.newHandshake.cancel();
    this.zeroKeyMaterial.cancel();
    this.persistentKeepalive.cancel();
  }
}
