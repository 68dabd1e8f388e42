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
  /** Sends datagrams to one endpoint. Never throws for a network error (counted and dropped). */
  send(packets: Uint8Array[], to: WgEndpoint): void;
  /**
   * Registers the receive callback: one datagram, the endpoint it came from. The buffer may be reused
   * after the callback returns.
   */
  onReceive(cb: (packet: Uint8Array, from: WgEndpoint) => void): void;
  /** Closes the sockets. Safe to call twice. */
  close(): Promise<void>;
}
