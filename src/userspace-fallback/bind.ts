/**
 * The UDP side of a device (wireguard-go's conn.Bind). udp.ts implements it over real sockets,
 * test/fakes/bind.ts as a cross-wired in-memory pair. Imports only the model's endpoint type.
 */
import type { WgEndpoint } from '../conf/model.js';

export interface Bind {
  /**
   * Opens (or re-opens) the sockets on `port` for IPv4 and IPv6; 0 picks a random free port, the same
   * for both families. Resolves to the port actually bound. Rejects with an Error whose `code` is
   * 'EADDRINUSE' (or another errno name) when the port cannot be bound; the previous sockets stay
   * open in that case.
   */
  open(port: number): Promise<number>;
  /** Sets SO_MARK on the sockets (0 clears it). Rejects when the platform cannot. */
  setMark(mark: number): Promise<void>;
  /**
   * Sends datagrams to one endpoint. Never throws for a network error (counted and dropped).
   * The device hands over fresh buffers (it never writes to them again), so an implementation may
   * queue them; all packets of one call go to the same peer, in order.
   * `to` is the peer's endpoint object, stable until the peer roams: it may key a cache.
   */
  send(packets: Uint8Array[], to: WgEndpoint): void;
  /**
   * Optional, to save a copy per datagram: room for a datagram of `len` bytes to `to` that the device
   * fills (seals) in place; the datagrams reserved so far go out, in order, at sendReserved(), which
   * the device calls before anything else is sent. null when there is no room (dropped, counted).
   */
  reserve?(len: number, to: WgEndpoint): Uint8Array | null;
  sendReserved?(): void;
  /**
   * Registers the receive callback: one datagram, the endpoint it came from. The buffer and the
   * endpoint object may be reused after the callback returns (the device copies what it keeps).
   * Device registers it in its constructor and drops datagrams while down.
   */
  onReceive(cb: (packet: Uint8Array, from: WgEndpoint) => void): void;
  /**
   * Optional, for a Bind that checks handshakes before the device sees them (udp.ts): the mac1 key
   * of our identity (HASH(LABEL_MAC1 || our public key)), null when we have none. Messages whose
   * mac1 fails are then dropped by the Bind.
   */
  setMac1Key?(key: Uint8Array | null): void;
  /** Optional: whether the device is under load (handshake backlog), `now` in the device clock's ms. */
  underLoad?(now: number): boolean;
  /** Closes the sockets. Safe to call twice. */
  close(): Promise<void>;
}
