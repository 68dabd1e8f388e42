import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  noiseSteps,
  beginSession, consumeInitiation, consumeResponse, createInitiation, createResponse, Handshake,
  HandshakeState, Keypair, Keypairs, type StaticIdentity,
} from '../../src/userspace-fallback/noise.js';
import { CookieChecker, CookieGenerator, cookieKey, mac1Key, MacState } from '../../src/userspace-fallback/cookie.js';
import { aeadSeal, aeadSealInto, generatePrivateKey, hash, kdf2, publicKeyFromPrivate, tai64n, writeNonce } from '../../src/crypto/primitives.js';
import { INIT_OFF_MAC1, RESP_OFF_MAC1 } from '../../src/userspace-fallback/messages.js';
import { ManualClock } from '../fakes/clock.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const v = JSON.parse(readFileSync(new URL('../vectors/noise-wireguard.json', import.meta.url), 'utf8'));

function identity(priv: Uint8Array): StaticIdentity {
  return { privateKey: priv, publicKey: publicKeyFromPrivate(priv) };
}

describe('Noise_IKpsk2 WireGuard-framed vector (test/vectors/noise-wireguard.json)', () => {
  it('reproduces initiation, response, transport keys and the first keepalive byte for byte', () => {
    const clock = new ManualClock();
    const ini = identity(hex(v.init_static));
    const res = identity(hex(v.resp_static));
    expect(toHex(ini.publicKey!)).toBe(v.init_static_pub);
    expect(toHex(res.publicKey!)).toBe(v.resp_static_pub);
    expect(toHex(mac1Key(res.publicKey!))).toBe(v.mac1_key_to_responder);
    expect(toHex(mac1Key(ini.publicKey!))).toBe(v.mac1_key_to_initiator);
    expect(toHex(cookieKey(res.publicKey!))).toBe(v.cookie_key_of_responder);

    const hsI = new Handshake(res.publicKey!);
    hsI.presharedKey.set(hex(v.psk));
    hsI.precompute(ini);
    const msg1 = createInitiation(ini, hsI, hex(v.timestamp), () => v.initiator_index, { ephemeralPrivate: hex(v.init_ephemeral) })!;
    new CookieGenerator(res.publicKey!, clock).addMacs(msg1, INIT_OFF_MAC1);
    expect(toHex(msg1)).toBe(v.initiation);

    const hsR = new Handshake(ini.publicKey!);
    hsR.presharedKey.set(hex(v.psk));
    hsR.precompute(res);
    const checker = new CookieChecker(clock);
    checker.init(res.publicKey!);
    expect(checker.validate(msg1, INIT_OFF_MAC1, '192.0.2.1', 1, false)).toBe(MacState.VALID_MAC_BUT_NO_COOKIE);
    const got = consumeInitiation(msg1, res, (pub) => (toHex(pub) === v.init_static_pub ? hsR : null), 1000);
    expect(got).toBe(hsR);
    expect(toHex(hsR.latestTimestamp)).toBe(v.timestamp);
    const msg2 = createResponse(hsR, () => v.responder_index, { ephemeralPrivate: hex(v.resp_ephemeral) })!;
    new CookieGenerator(ini.publicKey!, clock).addMacs(msg2, RESP_OFF_MAC1);
    expect(toHex(msg2)).toBe(v.response);

    expect(consumeResponse(msg2, ini, (i) => (i === v.initiator_index ? hsI : null))).toBe(hsI);
    const kpI = beginSession(hsI, 0)!;
    const kpR = beginSession(hsR, 0)!;
    expect(toHex(kpI.sendKey)).toBe(v.initiator_send_key);
    expect(toHex(kpI.receiveKey)).toBe(v.initiator_receive_key);
    expect(toHex(kpR.receiveKey)).toBe(v.initiator_send_key);
    expect(toHex(kpR.sendKey)).toBe(v.initiator_receive_key);
    expect(kpI.remoteIndex).toBe(v.responder_index);
    expect(hsI.state).toBe(HandshakeState.ZEROED);
    expect(toHex(hsI.chainingKey)).toBe('00'.repeat(32));

    const ka = new Uint8Array(32);
    ka.set(hex('0400000002000000'));
    writeNonce(kpI.sendNonce, 0);
    aeadSealInto(kpI.sendKey, kpI.sendNonce, new Uint8Array(0), new Uint8Array(0), ka, 16);
    expect(toHex(ka)).toBe(v.first_keepalive);
  });
});

describe('published cacophony Noise_IKpsk2 vector (test/vectors/noise-cacophony.json)', () => {
  it('the mixing steps reproduce both messages, the handshake hash and transport ciphertexts', () => {
    const c = JSON.parse(readFileSync(new URL('../vectors/noise-cacophony.json', import.meta.url), 'utf8'));
    const { mixHash, mixKey, mixDh, mixDhChainOnly, mixPsk } = noiseSteps;
    const iS = hex(c.init_static), iE = hex(c.init_ephemeral), rE = hex(c.resp_ephemeral);
    const rSpub = publicKeyFromPrivate(hex(c.resp_static));
    expect(toHex(rSpub)).toBe(c.resp_static_pub);
    // Noise: h = HASH(name) (name > 32 bytes), ck = h, MixHash(prologue), MixHash(rs).
    const h = hash(Buffer.from(c.protocol_name));
    const ck = h.slice();
    mixHash(h, hex(c.prologue));
    mixHash(h, rSpub);
    // -> e, es, s, ss, payload
    const ePub = publicKeyFromPrivate(iE);
    mixKey(ck, ePub);
    mixHash(h, ePub);
    let k = mixDh(ck, iE, rSpub)!;
    const encS = aeadSeal(k, publicKeyFromPrivate(iS), h);
    mixHash(h, encS);
    k = mixDh(ck, iS, rSpub)!;
    const enc1 = aeadSeal(k, hex(c.msg1_payload), h);
    mixHash(h, enc1);
    expect(toHex(ePub) + toHex(encS) + toHex(enc1)).toBe(c.msg1);
    // <- e, ee, se, psk, payload
    const rEpub = publicKeyFromPrivate(rE);
    mixKey(ck, rEpub);
    mixHash(h, rEpub);
    expect(mixDhChainOnly(ck, iE, rEpub)).toBe(true);
    expect(mixDhChainOnly(ck, iS, rEpub)).toBe(true);
    k = mixPsk(ck, h, hex(c.psk));
    const enc2 = aeadSeal(k, hex(c.msg2_payload), h);
    mixHash(h, enc2);
    expect(toHex(rEpub) + toHex(enc2)).toBe(c.msg2);
    expect(toHex(h)).toBe(c.handshake_hash);
    // Split: initiator sends with the first key.
    const [t1, t2] = kdf2(ck, new Uint8Array(0));
    expect(toHex(aeadSeal(t1, hex(c.transport_i_to_r.payload), new Uint8Array(0)))).toBe(c.transport_i_to_r.ciphertext);
    expect(toHex(aeadSeal(t2, hex(c.transport_r_to_i.payload), new Uint8Array(0)))).toBe(c.transport_r_to_i.ciphertext);
  });
});

describe('handshake rules', () => {
  function pair() {
    const a = identity(generatePrivateKey()), b = identity(generatePrivateKey());
    const hsA = new Handshake(b.publicKey!), hsB = new Handshake(a.publicKey!);
    hsA.precompute(a);
    hsB.precompute(b);
    return { a, b, hsA, hsB };
  }
  it('rejects a replayed initiation (timestamp not rising) and a flood (< 20 ms)', () => {
    const { a, b, hsA, hsB } = pair();
    const m1 = createInitiation(a, hsA, tai64n(100n, 0), () => 7)!;
    expect(consumeInitiation(m1, b, () => hsB, 0)).toBe(hsB);
    expect(consumeInitiation(m1, b, () => hsB, 1000)).toBeNull(); // replay
    const m2 = createInitiation(a, hsA, tai64n(101n, 0), () => 8)!;
    expect(consumeInitiation(m2, b, () => hsB, 5)).toBeNull(); // 5 ms after the previous: flood
    expect(consumeInitiation(m2, b, () => hsB, 25)).toBe(hsB);
  });
  it('a tampered initiation or response is dropped without disturbing state', () => {
    const { a, b, hsA, hsB } = pair();
    const m1 = createInitiation(a, hsA, tai64n(100n, 0), () => 7)!;
    for (const off of [8, 40, 90]) {
      const bad = m1.slice();
      bad[off]! ^= 1;
      expect(consumeInitiation(bad, b, () => hsB, 0)).toBeNull();
    }
    expect(consumeInitiation(m1, b, () => null, 0)).toBeNull(); // unknown peer
    expect(consumeInitiation(m1, b, () => hsB, 0)).toBe(hsB);
    const m2 = createResponse(hsB, () => 9)!;
    const bad = m2.slice();
    bad[50]! ^= 1;
    expect(consumeResponse(bad, a, () => hsA)).toBeNull();
    expect(hsA.state).toBe(HandshakeState.CREATED_INITIATION);
    expect(consumeResponse(m2, a, () => hsA)).toBe(hsA);
    expect(consumeResponse(m2, a, () => hsA)).toBeNull(); // state moved on
  });
  it('no initiation toward a low-order peer key', () => {
    const a = identity(generatePrivateKey());
    const hs = new Handshake(new Uint8Array(32));
    hs.precompute(a);
    expect(createInitiation(a, hs, tai64n(1n, 0), () => 1)).toBeNull();
  });
});

describe('keypair rotation (previous, current, next; kernel noise.c)', () => {
  const kp = (init: boolean, i: number) => new Keypair(new Uint8Array(32).fill(i), new Uint8Array(32), init, 0, i, 0);
  it('initiator: new → current, current → previous; responder: new → next until confirmed', () => {
    const destroyed: number[] = [];
    const s = new Keypairs((k) => destroyed.push(k.localIndex));
    const k1 = kp(true, 1), k2 = kp(true, 2), k3 = kp(false, 3), k4 = kp(true, 4), k5 = kp(false, 5);
    s.add(k1);
    expect([s.previous, s.current, s.next]).toEqual([null, k1, null]);
    s.add(k2);
    expect([s.previous, s.current, s.next]).toEqual([k1, k2, null]);
    s.add(k3); // responder: previous dropped, current kept for sending
    expect([s.previous, s.current, s.next]).toEqual([null, k2, k3]);
    expect(destroyed).toEqual([1]);
    expect(s.receivedWith(k2)).toBe(false);
    expect(s.receivedWith(k3)).toBe(true);
    expect([s.previous, s.current, s.next]).toEqual([k2, k3, null]);
    s.add(k5);
    s.add(k4); // initiator while a next is pending: next → previous, current dropped
    expect([s.previous, s.current, s.next]).toEqual([k5, k4, null]);
    expect(destroyed).toEqual([1, 2, 3]);
    expect(k3.sendKey.every((x) => x === 0)).toBe(true);
    s.clear();
    expect(destroyed.sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('cookies (the WireGuard paper §5.4.7)', () => {
  it('under load: mac2 missing → reply; reply consumed → mac2 valid; wrong mac1 binding rejected', () => {
    const clock = new ManualClock();
    const a = identity(generatePrivateKey()), b = identity(generatePrivateKey());
    const gen = new CookieGenerator(b.publicKey!, clock);
    const checker = new CookieChecker(clock);
    checker.init(b.publicKey!);
    const msg = new Uint8Array(148).fill(5);
    gen.addMacs(msg, INIT_OFF_MAC1);
    expect(checker.validate(msg, INIT_OFF_MAC1, '10.0.0.1', 5000, true)).toBe(MacState.VALID_MAC_BUT_NO_COOKIE);
    const reply = checker.createReply(msg, INIT_OFF_MAC1, 77, '10.0.0.1', 5000)!;
    expect(reply.length).toBe(64);
    const tampered = reply.slice();
    tampered[40]! ^= 1;
    expect(gen.consumeReply(tampered)).toBe(false);
    expect(gen.consumeReply(reply)).toBe(true);
    expect(gen.consumeReply(reply)).toBe(false); // one reply per mac1
    gen.addMacs(msg, INIT_OFF_MAC1);
    expect(checker.validate(msg, INIT_OFF_MAC1, '10.0.0.1', 5000, true)).toBe(MacState.VALID_MAC_WITH_COOKIE);
    expect(checker.validate(msg, INIT_OFF_MAC1, '10.0.0.2', 5000, true)).toBe(MacState.VALID_MAC_BUT_NO_COOKIE);
    msg[3]! ^= 1;
    expect(checker.validate(msg, INIT_OFF_MAC1, '10.0.0.1', 5000, true)).toBe(MacState.INVALID_MAC);
    // A cookie older than 115 s is no longer used for mac2; the secret rotates after 120 s.
    clock.advance(116_000);
    msg[3]! ^= 1;
    gen.addMacs(msg, INIT_OFF_MAC1);
    expect(toHex(msg.subarray(132))).toBe('00'.repeat(16));
    void a;
  });
});
