/**
 * The receiver-index table (kernel peerlookup.c, wireguard-go indextable.go; the WireGuard paper §5.4.2 on sender indices):
 * random 32-bit local indices → the handshake or keypair they name. Imports nothing; randomness is
 * passed in.
 */
export class IndexTable<T> {
  private readonly map = new Map<number, T>();

  /** `random32` returns a uniformly random unsigned 32-bit integer. */
  constructor(private readonly random32: () => number) {}

  /** Registers `entry` under a fresh random index (retrying on collision) and returns the index. */
  add(entry: T): number {
    for (;;) {
      const i = this.random32() >>> 0;
      if (!this.map.has(i)) {
        this.map.set(i, entry);
        return i;
      }
    }
  }

  /** Points an existing index at a new entry (handshake → keypair on session start). */
  replace(index: number, entry: T): void {
    if (this.map.has(index)) this.map.set(index, entry);
  }

  lookup(index: number): T | undefined {
    return this.map.get(index);
  }

  /** Releases `index` if it still names `entry` (a stale release must not free a reused index). */
  remove(index: number, entry?: T): void {
    if (entry === undefined || this.map.get(index) === entry) this.map.delete(index);
  }

  get size(): number {
    return this.map.size;
  }
}
