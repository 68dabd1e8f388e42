/**
 * Colour and key masking for the pretty `show` output (the role of wg's terminal.c and the
 * masked_key helper of show.c). Imports nothing.
 */

export const RESET = '\x1b[0m';
export const BOLD = '\x1b[1m';
export const RED = '\x1b[31m';
export const GREEN = '\x1b[32m';
export const YELLOW = '\x1b[33m';
export const CYAN = '\x1b[36m';

/** wg's colour decision: WG_COLOR_MODE=always / never, otherwise whether stdout is a TTY. */
export function colorMode(env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): boolean {
  const v = env.WG_COLOR_MODE;
  if (v === 'always') return true;
  if (v === 'never') return false;
  return stdoutIsTTY;
}

/** Pretty `show` prints real private/preshared keys only with WG_HIDE_KEYS=never. */
export function hideKeys(env: NodeJS.ProcessEnv): boolean {
  return env.WG_HIDE_KEYS !== 'never';
}

function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/**
 * wg's filter_ansi for one terminal_printf call when colour is off: every `ESC [` that starts before
 * the last two characters is removed together with everything up to and including the next ASCII
 * letter. It runs on the formatted text, so an escape inside an interface name is stripped too.
 */
export function stripAnsi(text: string): string {
  const len = text.length;
  if (len < 2) return text;
  const keep = new Array<boolean>(len).fill(true);
  for (let i = 0; i < len - 2; i++) {
    if (text[i] === '\x1b' && text[i + 1] === '[') {
      keep[i] = keep[i + 1] = false;
      let j = i + 2;
      for (; j < len; j++) {
        if (isAlpha(text[j]!)) break;
        keep[j] = false;
      }
      if (j < len) keep[j] = false;
    }
  }
  let out = '';
  for (let i = 0; i < len; i++) if (keep[i]) out += text[i];
  return out;
}

/** A printf-like sink: each call is one terminal_printf, filtered as wg filters it. */
export function terminalPrinter(color: boolean, write: (s: string) => void): (s: string) => void {
  return color ? write : (s) => write(stripAnsi(s));
}
