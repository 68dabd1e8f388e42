/**
 * The TUN side of a device: IP packets in and out. The protocol core (device.ts) only sees this
 * interface; tun-linux.ts implements it over /dev/net/tun, test/fakes/tun.ts over in-memory queues.
 * Imports nothing.
 */
export interface Tun {
  /** Interface name, e.g. "wg0". */
  readonly name: string;
  /**
   * Starts delivery of packets read from the interface: `onPackets` gets one or more whole IP packets
   * (IPv4 or IPv6, no extra header) per call. The arrays may be reused after the callback returns, so
   * a receiver that keeps a packet must copy it. Called at most once: by the Device's constructor.
   */
  start(onPackets: (packets: Uint8Array[]) => void): void;
  /**
   * Writes whole IP packets to the interface (delivers them to the host's stack). Never throws for a
   * bad packet. The device hands over fresh buffers it never touches again.
   */
  write(packets: Uint8Array[]): void;
  /** The interface's current MTU (it can change while running: `ip link set mtu`). */
  mtu(): number;
  /**
   * Registers a callback for when the interface goes away (deleted with `ip link del`) or fails for
   * good. The daemon exits on it.
   */
  onClose(cb: () => void): void;
  /** Stops reading and releases the device. Safe to call twice. */
  close(): Promise<void>;
}
