/**
 * The anti-replay sliding window (kernel `counter_validate` in receive.c, RFC 6479 style;
 * the WireGuard paper §5.4.6). It runs only after a data packet has been authenticated.
 *
 * The ring holds 8192 bits (128 × 64-bit words, kept as 256 u32 halves); 8128 of them are usable
 * so that the word being zeroed is never one still inside the window. Counters are stored plus one
 * so that counter 0 is representable with `greatest` starting at 0.
 */
import { COUNTER_BITS_TOTAL, COUNTER_WINDOW_SIZE, REJECT_AFTER_MESSAGES } from './messages.js';

const WORDS = COUNTER_BITS_TOTAL / 64; // 128
const WORD_MASK = WORDS - 1;

export class ReplayWindow {
  private greatest = 0;
  private readonly ring = new Uint32Array(WORDS * 2);

  reset(): void {
    this.greatest = 0;
    this.ring.fill(0);
  }

  /**
   * Accepts `counter` (a non-negative integer < 2^53; −1 from readCounter means "too large") once:
   * true if it is new and inside the window (and records it), false for a replay, a counter too
   * old for the window, or one at or beyond REJECT_AFTER_MESSAGES.
   */
  validate(counter: number): boolean {
    if (counter < 0 || counter >= REJECT_AFTER_MESSAGES || this.greatest >= REJECT_AFTER_MESSAGES + 1) return false;
    const c = counter + 1;
    if (c + COUNTER_WINDOW_SIZE < this.greatest) return false;
    const index = Math.floor(c / 64);
    if (c > this.greatest) {
      const current = Math.floor(this.greatest / 64);
      const diff = Math.min(index - current, WORDS);
      // Zero the words that slide into the window (strictly after greatest's word, up to ours).
      for (let i = 1; i <= diff; i++) {
        const w = ((current + i) & WORD_MASK) * 2; // `&` works on the low 32 bits: exact for these integers
        this.ring[w] = 0;
        this.ring[w + 1] = 0;
      }
      this.greatest = c;
    }
    const bit = c & 63;
    const slot = (index & WORD_MASK) * 2 + (bit >>> 5);
    const mask = 1 << (bit & 31);
    const old = this.ring[slot]!;
    if (old & mask) return false;
    this.ring[slot] = old | mask;
    return true;
  }
}
