/**
 * getaddrinfo's failures as wg reports them: the EAI_* names, glibc's gai_strerror texts, and the
 * error a host lookup throws. Shared by parse.ts (which retries and reports) and the system lookup
 * the commands pass in (system/conf-io.ts).
 */

/** glibc's gai_strerror text for EAI_SERVICE (also parse_port's message). */
export const EAI_SERVICE_TEXT = 'Servname not supported for ai_socktype';

/** glibc's gai_strerror texts, by EAI_* name. */
export const GAI_TEXT: Record<string, string> = {
  EAI_NONAME: 'Name or service not known',
  EAI_NODATA: 'No address associated with hostname',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EAI_FAIL: 'Non-recoverable failure in name resolution',
  EAI_FAMILY: 'ai_family not supported',
  EAI_SOCKTYPE: 'ai_socktype not supported',
  EAI_SERVICE: EAI_SERVICE_TEXT,
  EAI_ADDRFAMILY: 'Address family for hostname not supported',
  EAI_MEMORY: 'Memory allocation failure',
  EAI_BADFLAGS: 'Bad value for ai_flags',
  EAI_SYSTEM: 'System error',
  EAI_OVERFLOW: 'Result too large for supplied buffer',
};

/** A getaddrinfo-style failure with its EAI_* name. */
export class GaiError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(GAI_TEXT[code] ?? code);
    this.code = code;
  }
}
