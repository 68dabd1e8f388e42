export declare function nsdConf(opts: {
  dir: string;
  address: string;
  zone: string;
  zoneFile: string;
  pidFile?: string;
  answerCookie?: boolean;
}): string;
