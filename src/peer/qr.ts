/**
 * QR codes of a client configuration, for the WireGuard mobile apps' "scan from QR code": the
 * `qrcode` package encodes (no hand-written encoder); this file only picks the output forms.
 */
import QRCode from 'qrcode';

/** A PNG image (error correction M, 8 pixels a module, the standard 4-module quiet zone). */
export function qrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', scale: 8, margin: 4 });
}

/**
 * The code in UTF-8 half blocks (two modules a character cell), drawn black on white with SGR
 * colours whatever the terminal's theme — a light-on-dark code is refused by many scanners.
 * Error correction L keeps it within 80 columns for a typical configuration.
 */
export async function qrTerminal(text: string): Promise<string> {
  const art = await QRCode.toString(text, { type: 'utf8', errorCorrectionLevel: 'L', margin: 2 });
  return art
    .split('\n')
    .map((row) => `\x1b[30;107m${row}\x1b[0m`)
    .join('\n') + '\n';
}
