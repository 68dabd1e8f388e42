/**
 * What the main thread and whichever thread reads a source (reader-worker.ts, idle-poll.ts) share:
 * the description of a source, the handshake gate's layout, the worker's messages.
 */
import type { LinkEvent } from './link-watch.js';

/**
 * The gate shared with the reading thread: word 0 is the mac1 key's generation (0: no key), words
 * 1-3 count what was dropped (mac1 failed, lane full, neither data nor handshake; see
 * RingReader.gateCounters()), the key is at byte GATE_KEY_OFFSET.
 */
export const GATE_KEY_SET = 0;
export const GATE_MAC1_FAILED = 1;
export const GATE_HS_DROPPED = 2;
export const GATE_JUNK = 3;
export const GATE_KEY_OFFSET = 16;
export const GATE_BYTES = GATE_KEY_OFFSET + 32;

/** Handshake lane fill that means "under load" (kernel: 512 of 4096 queued), and how long it lasts. */
export const UNDER_LOAD_BACKLOG = 1 / 8;
export const UNDER_LOAD_AFTER_MS = 1000;

/** A source as the reading thread is told of it. */
export interface SourceSpec {
  fds: number[];
  sab: SharedArrayBuffer;
  ctrlSab: SharedArrayBuffer;
  maxPacket: number;
  withAddr: boolean;
  batch: number;
  /** The link watch's netlink socket (link-watch.ts), opened and closed by the main thread. */
  linkFd: number | undefined;
  /** The handshake lane's ring and the gate (mac1 key, counters), when the source has one. */
  handshakes?: { sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer; gateSab: SharedArrayBuffer };
}

/** What the main thread asks of the reader worker. */
export type ReaderRequest = ({ op: 'add'; id: number } & SourceSpec) | { op: 'remove'; id: number } | { op: 'exit' };
/** What the reader worker posts: ready (loaded, polling), a source's link event, the acknowledgement of a removal. */
export type ReaderMessage = { kind: 'ready' } | (LinkEvent & { id: number }) | { kind: 'removed'; id: number };
