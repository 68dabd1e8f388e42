/**
 * The sending side (kernel send.c, wireguard-go send.go): route TUN packets to peers by destination,
 * stage them per peer, assign counters in order, pad, encrypt and hand whole batches to the Bind;
 * handshake initiations and responses; keepalives; rekey checks after sending.
 *
 * Hot path (`routeAndSend` → `transmit` → `sealDataInto`): packets of one TUN batch are grouped
 * per peer and, when the peer holds a usable keypair and has nothing staged, encrypted straight from
 * the TUN buffers (no staging copy) into the Bind's send buffers (Bind.reserve: the writer's ring,
 * so the datagram is not copied again before the system call); a Bind without reserve() gets fresh
 * datagrams (encryptData). Nonces live in one buffer per keypair.
 */
import { sealPadded, tai64n, writeNonce } from '../crypto/primitives.js';
import { allocPacket } from '../crypto/queue-slab.js';
import {
  createInitiation,
  createResponse,
  beginSession,
  type Keypair,
} from './noise.js';
import {
  INIT_OFF_MAC1,
  MESSAGE_DATA,
  MESSAGE_DATA_OVERHEAD,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_TIMEOUT,
  RESP_OFF_MAC1,
  paddedLength,
  writeCounter,
  writeU32,
} from './messages.js';
import type { DeviceCore, Peer } from './peer.js';

const EMPTY = new Uint8Array(0);

/** Builds one data message for `plaintext` under `kp` with `counter` (the WireGuard paper §5.4.6). */
export function encryptData(kp: Keypair, counter: number, plaintext: Uint8Array, mtu: number): Uint8Array {
  const out = allocPacket(MESSAGE_DATA_OVERHEAD + paddedLength(plaintext.length, mtu));
  sealDataInto(kp, counter, plaintext, out);
  return out;
}

/**
 * Writes the data message for `plaintext` into `out`, whose length (MESSAGE_DATA_OVERHEAD + the
 * padded length, paddedLength) sets the padding: a Bind's reserved room (Bind.reserve), so the
 * datagram is sealed where it is sent from.
 */
export function sealDataInto(kp: Keypair, counter: number, plaintext: Uint8Array, out: Uint8Array): void {
  writeU32(out, 0, MESSAGE_DATA);
  writeU32(out, 4, kp.remoteIndex);
  writeCounter(out, 8, counter);
  writeNonce(kp.sendNonce, counter);
  sealPadded(kp.sendKey, kp.sendNonce, plaintext, out.length - MESSAGE_DATA_OVERHEAD - plaintext.length, out, 16);
}

/** A keypair we may send with now, or null (none, expired, exhausted, or not confirmed). */
function usableKeypair(peer: Peer, now: number): Keypair | null {
  const kp = peer.keypairs.current;
  if (kp === null || !kp.canSend || now - kp.birth >= REJECT_AFTER_TIME || kp.sendCounter >= REJECT_AFTER_MESSAGES) return null;
  return kp;
}

/**
 * Encrypts and sends `packets` (IP packets or empty keepalives) to `peer` right now with `kp`.
 * Returns how many were sent; the rest (counter exhaustion) are left for the caller to stage.
 */
function transmit(peer: Peer, kp: Keypair, packets: Uint8Array[], start: number, now: number): number {
  const dev = peer.device;
  const endpoint = peer.endpoint!;
  const mtu = dev.tun.mtu();
  const bind = dev.bind;
  let n = 0;
  let bytes = 0;
  let sentData = false;
  if (bind.reserve) {
    // Sealed straight into the Bind's send buffers. No room: dropped (counted by the Bind) before it
    // takes a counter.
    for (let i = start; i < packets.length; i++) {
      if (kp.sendCounter >= REJECT_AFTER_MESSAGES) break;
      const p = packets[i]!;
      const len = MESSAGE_DATA_OVERHEAD + paddedLength(p.length, mtu);
      const out = bind.reserve(len, endpoint);
      n++;
      if (out === null) continue;
      sealDataInto(kp, kp.sendCounter++, p, out);
      bytes += len;
      if (p.length) sentData = true;
    }
    if (n === 0) return 0;
    bind.sendReserved!();
    if (bytes === 0) return n; // all dropped
    return transmitted(peer, kp, n, bytes, sentData, now);
  }
  const out: Uint8Array[] = new Array(packets.length - start);
  for (let i = start; i < packets.length; i++) {
    if (kp.sendCounter >= REJECT_AFTER_MESSAGES) break;
    const p = packets[i]!;
    const msg = encryptData(kp, kp.sendCounter++, p, mtu);
    out[n++] = msg;
    bytes += msg.length;
    if (p.length) sentData = true;
  }
  if (n === 0) return 0;
  out.length = n;
  bind.send(out, endpoint);
  return transmitted(peer, kp, n, bytes, sentData, now);
}

/** After `n` packets went to the Bind: accounting, timers, rekey; returns n. */
function transmitted(peer: Peer, kp: Keypair, n: number, bytes: number, sentData: boolean, now: number): number {
  peer.txBytes += bytes;
  if (sentData) peer.timers.dataSent();
  peer.timers.anyAuthenticatedPacketSent();
  peer.timers.anyAuthenticatedPacketTraversal();
  // Keep the key fresh (send side): volume always, time only if we initiated this session.
  if (kp.sendCounter > REKEY_AFTER_MESSAGES || (kp.isInitiator && now - kp.birth > REKEY_AFTER_TIME)) {
    sendHandshakeInitiation(peer, false);
  }
  return n;
}

/**
 * Flushes the peer's staged queue (kernel wg_packet_send_staged_packets): with a usable keypair and
 * a known endpoint the packets go out in order; otherwise they stay staged and a handshake starts.
 */
export function sendStagedPackets(peer: Peer): void {
  if (!peer.canRun || peer.staged.length === 0) return;
  const now = peer.device.clock.now();
  const kp = usableKeypair(peer, now);
  if (kp === null || peer.endpoint === null) {
    if (peer.endpoint === null) peer.device.stats.txNoEndpoint++;
    else sendHandshakeInitiation(peer, false);
    return;
  }
  const packets = peer.staged;
  peer.staged = [];
  const sent = transmit(peer, kp, packets, 0, now);
  if (sent < packets.length) {
    peer.staged = packets.slice(sent).concat(peer.staged);
    sendHandshakeInitiation(peer, false);
  }
}

/**
 * Sends packets read from the TUN in one batch: each is routed by its inner destination; a packet
 * with no peer is dropped (counted). The arrays belong to the TUN and are valid only during this
 * call: packets that cannot go out at once are copied into the peer's staged queue.
 */
export function routeAndSend(dev: DeviceCore, packets: Uint8Array[], batch: Map<Peer, Uint8Array[]>): void {
  if (packets.length === 1) {
    // A lone packet (a ping, an ACK): no grouping, whose Map and iteration cost more than the
    // packet's own work while this path still runs in the interpreter.
    const peer = routeOf(dev, packets[0]!);
    if (peer !== null) sendToPeer(peer, packets, dev.clock.now());
    return;
  }
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i]!;
    const peer = routeOf(dev, p);
    if (peer === null) continue;
    const list = batch.get(peer);
    if (list) list.push(p);
    else batch.set(peer, [p]);
  }
  if (batch.size === 0) return;
  const now = dev.clock.now();
  for (const [peer, list] of batch) sendToPeer(peer, list, now);
  batch.clear();
}

/** The peer whose allowed IPs hold the packet's inner destination; null (counted) if none. */
function routeOf(dev: DeviceCore, p: Uint8Array): Peer | null {
  let peer: Peer | null = null;
  const version = p.length > 0 ? p[0]! >> 4 : 0;
  if (version === 4 && p.length >= 20) peer = dev.allowedIps.lookup(4, p, 16);
  else if (version === 6 && p.length >= 40) peer = dev.allowedIps.lookup(6, p, 24);
  if (peer === null) dev.stats.txNoRoute++;
  return peer;
}

/** Sends one peer's packets of the batch now if a keypair allows, staging the rest (copied). */
function sendToPeer(peer: Peer, list: Uint8Array[], now: number): void {
  const kp = peer.staged.length === 0 && peer.endpoint !== null && peer.canRun ? usableKeypair(peer, now) : null;
  let sent = 0;
  if (kp !== null) sent = transmit(peer, kp, list, 0, now);
  for (let i = sent; i < list.length; i++) peer.stage(list[i]!);
  if (sent < list.length) sendStagedPackets(peer);
}

/** Sends a keepalive: an empty packet, unless other packets are staged (they serve as one). */
export function sendKeepalive(peer: Peer): void {
  if (peer.staged.length === 0) peer.staged.push(EMPTY);
  sendStagedPackets(peer);
}

/**
 * Sends a handshake initiation (kernel wg_packet_send_handshake_initiation): at most one per
 * REKEY_TIMEOUT; a non-retry resets the attempt count. The retransmit timer is armed even when
 * there is nowhere to send it, so attempts are counted and eventually given up.
 */
export function sendHandshakeInitiation(peer: Peer, isRetry: boolean): void {
  if (!peer.canRun) return;
  if (!isRetry) peer.timers.handshakeAttempts = 0;
  const dev = peer.device;
  const now = dev.clock.now();
  if (now - peer.lastSentHandshake < REKEY_TIMEOUT) return;
  peer.lastSentHandshake = now;
  const w = dev.clock.wallclock();
  const msg = createInitiation(dev.identity, peer.handshake, tai64n(w.sec, w.nsec), () => peer.allocHandshakeIndex());
  if (msg === null) return;
  peer.verbose('Sending handshake initiation');
  peer.cookieGenerator.addMacs(msg, INIT_OFF_MAC1);
  peer.timers.anyAuthenticatedPacketTraversal();
  peer.timers.anyAuthenticatedPacketSent();
  if (peer.endpoint !== null) {
    peer.txBytes += MESSAGE_INITIATION_SIZE;
    dev.bind.send([msg], peer.endpoint);
  } else {
    dev.stats.txNoEndpoint++;
  }
  peer.timers.handshakeInitiated();
}

/**
 * Answers a consumed initiation (kernel wg_packet_send_handshake_response): builds message 2,
 * derives the keypair into `next` (we may not send on it until the initiator does) and sends.
 */
export function sendHandshakeResponse(peer: Peer): void {
  const dev = peer.device;
  const now = dev.clock.now();
  peer.lastSentHandshake = now;
  const msg = createResponse(peer.handshake, () => peer.allocHandshakeIndex());
  if (msg === null) return;
  peer.verbose('Sending handshake response');
  peer.cookieGenerator.addMacs(msg, RESP_OFF_MAC1);
  const kp = beginSession(peer.handshake, now);
  if (kp === null) return;
  peer.installKeypair(kp);
  peer.timers.sessionDerived();
  peer.timers.anyAuthenticatedPacketTraversal();
  peer.timers.anyAuthenticatedPacketSent();
  if (peer.endpoint !== null) {
    peer.txBytes += MESSAGE_RESPONSE_SIZE;
    dev.bind.send([msg], peer.endpoint);
  }
}
