/**
 * The shared-memory rings between the main thread and the I/O workers (reader-worker.ts,
 * writer-worker.ts): one producer, one consumer, a SharedArrayBuffer of records and a small
 * Int32Array of control words. Imported by both sides, so the layout has one home.
 *
 * Record: [i32 length][meta][payload], each record 4-byte aligned; a length of WRAP marks that the
 * producer went back to offset 0. `meta` is fixed per ring (a sockaddr for UDP, the fd and
 * destination for the writer, nothing for the TUN). W === R means empty; the producer always leaves
 * more than one record's room plus a wrap marker free, so a full ring never looks empty.
 */

/** Control words (indexes into the ring's Int32Array). */
export const Ctrl = {
  /** Producer offset (the next record starts here). */
  W: 0,
  /** Consumer offset. */
  R: 1,
  /** Bumped by the producer after a burst; the consumer waits on it when the ring is empty. */
  SEQ: 2,
  /** Bumped by the consumer when it frees space; the producer waits on it when the ring is full. */
  RSEQ: 3,
  /** Reader rings: 0, or the errno that ended the source. Writer ring: 1 once told to stop. */
  STATE: 4,
  /**
   * Writer ring: 1 while the worker sleeps on SEQ (the producer notifies only then). Reader ring
   * with a handshake lane: 1 while the main thread waits with an empty lane (the worker wakes it
   * for handshakes only then; otherwise the main thread takes them on its own schedule).
   */
  SLEEPING: 5,
  /** Reader ring with a link watch: the ifindex whose link events the worker reports (0: none). */
  LINK_INDEX: 6,
  /** Reader ring: set by the consumer when it stops the source (the worker must not wait for room). */
  STOP: 7,
  /** Writer ring: records the worker has finished with (sent, written or dropped), wrapping at 2^32. */
  DONE: 8,
  /** Writer ring: UDP GSO trains sent, and trains that failed and went out datagram by datagram. */
  TRAINS: 9,
  SPLITS: 10,
} as const;

/** Size of the control array in bytes (room for a few more words). */
export const CTRL_BYTES = 64;
/** Length value that sends the consumer back to offset 0. */
export const WRAP = -1;
/** The length prefix of every record. */
export const LEN_BYTES = 4;
/** Room for any sockaddr the data plane meets (sockaddr_in6). */
export const SOCKADDR_BYTES = 28;

/** Writer ring record: [i32 length][i32 fd][i32 sockaddr length (0: write())][sockaddr][payload]. */
export const WRITER_OFF_FD = LEN_BYTES;
export const WRITER_OFF_SALEN = LEN_BYTES + 4;
export const WRITER_OFF_SA = LEN_BYTES + 8;
export const WRITER_HDR = WRITER_OFF_SA + SOCKADDR_BYTES;

/** The offset after a record whose header (length prefix and meta) is `hdr` bytes. */
export function nextOffset(off: number, hdr: number, len: number): number {
  return (off + hdr + len + 3) & ~3;
}

/** A ring's two shared buffers, as passed to a worker. */
export interface RingBuffers {
  sab: SharedArrayBuffer;
  ctrlSab: SharedArrayBuffer;
}

export function newRing(capacity: number): RingBuffers {
  if (capacity % 4 !== 0 || capacity < 64) throw new RangeError(`ring capacity ${capacity}`);
  return { sab: new SharedArrayBuffer(capacity), ctrlSab: new SharedArrayBuffer(CTRL_BYTES) };
}

/**
 * Where the producer may write a record of `size` bytes (header included) given its offset `w` and
 * the consumer's `r`, or -1 when the ring is too full. Writes the wrap marker when the record goes
 * to offset 0 (harmless if the caller then writes nothing: the next attempt writes the same marker).
 */
export function reserve(dv: DataView, w: number, r: number, size: number): number {
  const need = size + LEN_BYTES; // the record, and a wrap marker after it
  // An empty ring past its middle starts again at the head: light traffic then cycles through the
  // first half instead of walking every page of the ring into the process's RSS (4 MiB per ring in
  // a daemon that is mostly idle). Not earlier: until the consumer reports progress the producer has
  // only [0, R) (a consumer that reports every few records would make a burst find the ring full).
  if (w === r && r >= dv.byteLength >> 1) {
    dv.setInt32(w, WRAP, true);
    return 0;
  }
  if (w >= r) {
    if (dv.byteLength - w > need) return w;
    // Wrapping must not make W catch up with R (that would read as empty).
    if (r > need) {
      dv.setInt32(w, WRAP, true);
      return 0;
    }
    return -1;
  }
  return r - w > need ? w : -1;
}

/**
 * Bytes of records between the consumer and the producer (how full the ring is). A wrap marker at
 * the consumer's offset means the records start again at the head: the rest of the ring holds none,
 * which matters after reserve() sent an empty ring back to the head from past its middle (counted
 * from R to the end, half a ring of nothing would read as a ring half full).
 */
export function used(dv: DataView, w: number, r: number): number {
  if (w >= r) return w - r;
  return dv.getInt32(r, true) === WRAP ? w : dv.byteLength - r + w;
}

/** Producer side: bump SEQ and wake a consumer waiting on it. */
export function publish(ctrl: Int32Array): void {
  Atomics.add(ctrl, Ctrl.SEQ, 1);
  Atomics.notify(ctrl, Ctrl.SEQ);
}

/** Consumer side: store the new R, bump RSEQ and wake a producer waiting for room. */
export function release(ctrl: Int32Array, r: number): void {
  Atomics.store(ctrl, Ctrl.R, r);
  Atomics.add(ctrl, Ctrl.RSEQ, 1);
  Atomics.notify(ctrl, Ctrl.RSEQ);
}

/**
 * Producer side, for a thread that may block (a worker): the offset for a record of `size` bytes,
 * waiting (in slices of `sliceMs`) while the ring is full. -1 once the consumer set STOP.
 * `beforeWait` runs before each wait (the reader publishes its partial burst there).
 */
export function reserveBlocking(ctrl: Int32Array, dv: DataView, w: number, size: number, beforeWait: () => void, sliceMs = 100): number {
  for (;;) {
    const rseq = Atomics.load(ctrl, Ctrl.RSEQ);
    const at = reserve(dv, w, Atomics.load(ctrl, Ctrl.R), size);
    if (at !== -1) return at;
    if (Atomics.load(ctrl, Ctrl.STOP) !== 0) return -1;
    beforeWait();
    Atomics.wait(ctrl, Ctrl.RSEQ, rseq, sliceMs);
    if (Atomics.load(ctrl, Ctrl.STOP) !== 0) return -1;
  }
}
