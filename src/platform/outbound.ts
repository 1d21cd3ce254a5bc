/**
 * Where the operator may send requests on behalf of a JwtRotation. A JwtRotation names URLs (its
 * Prometheus, its receivers' URLs in Secrets), and whoever may create one may name any URL; the
 * operator's administrator decides where the operator actually goes (OUTBOUND_HOSTS,
 * NOTIFICATIONS_ALLOW_HTTP; docs/operations.md, "Threat model"). Hosts are compared by name, before
 * any DNS lookup: a name is what the administrator wrote and what the tenant cannot change.
 */

/** The cluster's own Services, by their DNS names, and nothing else. */
export const DEFAULT_OUTBOUND_HOSTS: readonly string[] = ['*.svc', '*.svc.cluster.local'];

export interface OutboundPolicy {
  /**
   * Host patterns: `*` (any host: the administrator opted out), `*.example.com` (any name ending in
   * .example.com, not example.com itself), or a host name or IP address (`[::1]` for IPv6).
   */
  hosts: readonly string[];
  /** Whether notifications may go to http:// receivers (Prometheus may be http:// either way). */
  allowHttpReceivers: boolean;
}

/** An OutboundPolicy that allows everything: for tests of other things only. */
export const ALLOW_ALL_OUTBOUND: OutboundPolicy = { hosts: ['*'], allowHttpReceivers: true };

/** A host pattern as OUTBOUND_HOSTS accepts it. */
export const HOST_PATTERN =
  /^(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

/** The host as compared: lower case, without a trailing dot (`a.svc.` is `a.svc`). */
function normalHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

export function hostAllowed(patterns: readonly string[], hostname: string): boolean {
  const host = normalHost(hostname);
  return patterns.some((p) => {
    const pattern = p.toLowerCase();
    if (pattern === '*') return true;
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
    return host === pattern;
  });
}

/**
 * Why the operator will not send to `url` for `use`, or undefined when it may. The message names
 * the host only when `showHost` (a URL from a spec is the tenant's own text; a receiver URL from a
 * Secret is a credential and is never echoed, not even its host).
 */
export function refusedUrl(
  policy: OutboundPolicy,
  url: string,
  use: 'prometheus' | 'receiver' | 'relying-party' | 'member',
  showHost: boolean,
): string | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    return 'is not an http(s) URL';
  if (use === 'receiver' && parsed.protocol === 'http:' && !policy.allowHttpReceivers)
    return 'is an http:// URL; notifications go to https:// receivers only, unless the operator is run with NOTIFICATIONS_ALLOW_HTTP=true';
  if (!hostAllowed(policy.hosts, parsed.hostname)) {
    const host = showHost ? `host ${parsed.hostname} ` : 'host ';
    return `${host}is not in the operator's outbound allowlist (OUTBOUND_HOSTS: ${policy.hosts.join(',')}); ask the operator's administrator`;
  }
  return undefined;
}
