/** `wgts-userspace [-f|--foreground] IFNAME`: placeholder until the data plane lands. */
export async function main(argv: string[]): Promise<number> {
  void argv;
  process.stderr.write('wgts-userspace: not implemented yet\n');
  return 1;
}
