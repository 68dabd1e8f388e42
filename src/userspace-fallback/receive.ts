/**
 * The receiving side (kernel receive.c, wireguard-go receive.go): classify each datagram by type
 * and exact size, then
 * - data: find the keypair by receiver index, check age and counter, decrypt, and only then run the
 *   replay window, roam the endpoint, confirm a pending `next` keypair, run the timers, drop
 *   keepalives, validate the inner IP header, trim padding, check the inner source against the
 *   allowed IPs of the sending peer and hand the packet to the TUN;
 * - handshakes: mac1 before any DH; under load mac2 or a cookie reply, then the per-source rate
 *   limiter; consume, roam, answer or begin the session;
 * - cookie replies: store the cookie (no endpoint or timer change).
 * Hostile packets return after counting; nothing here throws for a bad packet.
 */
import type { WgEndpoint } from '../conf/model.js';
import { openData, writeNonce } from '../crypto/primitives.js';
import { view } from '../crypto/queue-slab.js';
import { consumeInitiation, consumeResponse, beginSession } from './noise.js';
import { MacState, type CookieChecker } from './cookie.js';
import {
  DATA_OFF_CONTENT,
  INIT_OFF_MAC1,
  INIT_OFF_SENDER,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_DATA,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_ON_RECEIVE_AGE,
  RESP_OFF_MAC1,
  RESP_OFF_SENDER,
  COOKIE_OFF_RECEIVER,
  readCounter,
  readU32,
  validMessageType,
} from './messages.js';
import type { RateLimiter } from './ratelimiter.js';
import type { DeviceCore, Peer } from './peer.js';
import { sendHandshakeInitiation, sendHandshakeResponse, sendKeepalive, sendStagedPackets } from './send.js';

/** The device-level pieces the handshake path needs beyond DeviceCore. */
export interface HandshakeGate {
  readonly cookieChecker: CookieChecker;
  readonly rateLimiter: RateLimiter;
  /** Counts one incoming handshake message and says whether the device is under load. */
  noteHandshakeAndCheckLoad(): boolean;
}

/** Moves the peer's endpoint to the authenticated packet's source (roaming). */
function updateEndpoint(peer: Peer, from: WgEndpoint): void {
  const e = peer.endpoint;
  if (e !== null && e.port === from.port && e.host === from.host && e.family === from.family) return;
  peer.endpoint = { family: from.family, host: from.host, port: from.port };
}

/** Handles one datagram from the Bind. */
export function receivePacket(dev: DeviceCore, gate: HandshakeGate, packet: Uint8Array, from: WgEndpoint): void {
  const type = validMessageType(packet);
  if (type === MESSAGE_DATA) receiveData(dev, packet, from);
  else if (type === MESSAGE_INITIATION || type === MESSAGE_RESPONSE) receiveHandshake(dev, gate, type, packet, from);
  else if (type === MESSAGE_COOKIE_REPLY) receiveCookieReply(dev, packet);
  else {
    dev.stats.rxInvalid++;
    dev.logDrop(`Received message with unknown type or invalid size from ${from.host}:${from.port}`);
  }
}

function receiveData(dev: DeviceCore, packet: Uint8Array, from: WgEndpoint): void {
  const entry = dev.indexTable.lookup(readU32(packet, 4));
  if (entry === undefined || entry.keypair === null) {
    dev.stats.rxInvalid++;
    return;
  }
  const kp = entry.keypair;
  const peer = entry.peer;
  const now = dev.clock.now();
  const counter = readCounter(packet, 8);
  if (now - kp.birth >= REJECT_AFTER_TIME || counter < 0 || counter >= REJECT_AFTER_MESSAGES || !peer.canRun) {
    dev.stats.rxDropped++;
    return;
  }
  writeNonce(kp.receiveNonce, counter);
  const plain = openData(kp.receiveKey, kp.receiveNonce, view(packet, DATA_OFF_CONTENT, packet.length - DATA_OFF_CONTENT));
  if (plain === null) {
    dev.stats.rxInvalid++;
    dev.logDrop(`${peer.name} - Failed to decrypt data packet`);
    return;
  }
  if (!kp.replay.validate(counter)) {
    dev.stats.rxReplay++;
    dev.logDrop(`${peer.name} - Dropped replayed or too old data packet`);
    return;
  }

  // Authenticated: roam, account, confirm the session, run the timers.
  updateEndpoint(peer, from);
  peer.rxBytes += packet.length;
  if (peer.keypairs.receivedWith(kp)) {
    // Key confirmation of the session we responded to: now we may send on it.
    peer.timers.handshakeComplete();
    peer.recordHandshakeTime();
    sendStagedPackets(peer);
  }
  // Keep the key fresh (receive side): once, when a session we initiated nears its end.
  const cur = peer.keypairs.current;
  if (cur !== null && cur === kp && cur.isInitiator && !peer.timers.sentLastMinuteHandshake && now - cur.birth >= REKEY_ON_RECEIVE_AGE) {
    peer.timers.sentLastMinuteHandshake = true;
    sendHandshakeInitiation(peer, false);
  }
  peer.timers.anyAuthenticatedPacketReceived();
  peer.timers.anyAuthenticatedPacketTraversal();
  const n = plain.length;
  if (n === 0) return; // keepalive

  peer.timers.dataReceived();
  // Inner header: IPv4 (total length) or IPv6 (payload length); trims the padding.
  let len = 0;
  let family: 4 | 6 = 4;
  let srcOff = 0;
  const version = plain[0]! >> 4;
  if (version === 4 && n >= 20) {
    len = (plain[2]! << 8) | plain[3]!;
    srcOff = 12;
    if (len < 20) len = 0;
  } else if (version === 6 && n >= 40) {
    len = 40 + ((plain[4]! << 8) | plain[5]!);
    family = 6;
    srcOff = 8;
  }
  if (len === 0 || len > n) {
    dev.stats.rxInvalid++;
    dev.logDrop(`${peer.name} - Packet with invalid IP header`);
    return;
  }
  if (dev.allowedIps.lookup(family, plain, srcOff) !== peer) {
    dev.stats.rxBadSource++;
    dev.logDrop(`${peer.name} - IPv${family} packet with disallowed source address`);
    return;
  }
  dev.tun.write([len === plain.length ? plain : view(plain, 0, len)]);
}

function receiveHandshake(dev: DeviceCore, gate: HandshakeGate, type: number, packet: Uint8Array, from: WgEndpoint): void {
  const underLoad = gate.noteHandshakeAndCheckLoad();
  const macOff = type === MESSAGE_INITIATION ? INIT_OFF_MAC1 : RESP_OFF_MAC1;
  const state = gate.cookieChecker.validate(packet, macOff, from.host, from.port, underLoad);
  if (state === MacState.INVALID_MAC) {
    dev.stats.handshakesDropped++;
    dev.logDrop(`Received handshake with invalid mac1 from ${from.host}:${from.port}`);
    return;
  }
  if (underLoad) {
    if (state !== MacState.VALID_MAC_WITH_COOKIE) {
      const sender = readU32(packet, type === MESSAGE_INITIATION ? INIT_OFF_SENDER : RESP_OFF_SENDER);
      const reply = gate.cookieChecker.createReply(packet, macOff, sender, from.host, from.port);
      if (reply !== null) {
        dev.bind.send([reply], from);
        dev.stats.cookieRepliesSent++;
      }
      return;
    }
    if (!gate.rateLimiter.allow(from.family, from.host)) {
      dev.stats.handshakesDropped++;
      return;
    }
  }
  const now = dev.clock.now();
  const found: { peer: Peer | null } = { peer: null };
  const hs =
    type === MESSAGE_INITIATION
      ? consumeInitiation(packet, dev.identity, (pub) => {
          const peer = dev.peerByKey(pub);
          if (peer === null || !peer.canRun) return null;
          found.peer = peer;
          return peer.handshake;
        }, now)
      : consumeResponse(packet, dev.identity, (index) => {
          const e = dev.indexTable.lookup(index);
          if (e === undefined || e.keypair !== null || !e.peer.canRun) return null;
          found.peer = e.peer;
          return e.peer.handshake;
        });
  const p = found.peer;
  if (hs === null || p === null) {
    dev.stats.handshakesDropped++;
    dev.logDrop(`Failed to consume handshake ${type === MESSAGE_INITIATION ? 'initiation' : 'response'} from ${from.host}:${from.port}`);
    return;
  }
  // Authenticated handshake message: roam, account, run the timers.
  p.verbose(type === MESSAGE_INITIATION ? 'Received handshake initiation' : 'Received handshake response');
  updateEndpoint(p, from);
  p.rxBytes += packet.length;
  p.timers.anyAuthenticatedPacketReceived();
  p.timers.anyAuthenticatedPacketTraversal();
  if (type === MESSAGE_INITIATION) {
    sendHandshakeResponse(p);
    return;
  }
  const kp = beginSession(hs, now);
  if (kp === null) return;
  p.installKeypair(kp);
  p.timers.sessionDerived();
  p.timers.handshakeComplete();
  p.recordHandshakeTime();
  // Key confirmation for the responder: staged packets, or a keepalive if there are none.
  sendKeepalive(p);
}

function receiveCookieReply(dev: DeviceCore, packet: Uint8Array): void {
  const e = dev.indexTable.lookup(readU32(packet, COOKIE_OFF_RECEIVER));
  if (e === undefined || !e.peer.cookieGenerator.consumeReply(packet)) {
    dev.stats.rxInvalid++;
    return;
  }
  e.peer.verbose('Received cookie reply');
}
