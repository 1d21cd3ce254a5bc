/**
 * Probes a relying party (spec.issuer.relyingParties[]) with a token: does it accept it now?
 * - `kubernetes`: a TokenReview on the API server the operator talks to (it needs create on
 *   tokenreviews): accepted when the API server authenticates the token.
 * - `http`: GET with the token as a bearer token: accepted on a status in acceptStatus (default 200,
 *   202, 204), refused on 401 or 403, an error otherwise.
 * Never throws, and no message carries the token.
 */
import * as k8s from '@kubernetes/client-node';
import type { RelyingPartySpec } from '../../api/types.ts';
import { describeError } from '../kubernetes/errors.ts';

export interface ProbeAnswer {
  outcome: 'Accepted' | 'Refused' | 'Error';
  message: string;
}

const DEFAULT_ACCEPT = [200, 202, 204];

export class RelyingPartyProber {
  constructor(
    private readonly authentication: k8s.AuthenticationV1Api,
    private readonly timeoutMs = 10_000,
  ) {}

  async probe(rp: RelyingPartySpec, token: string): Promise<ProbeAnswer> {
    if (rp.kubernetes !== undefined) return this.tokenReview(rp.kubernetes.audiences, token);
    if (rp.http !== undefined) return this.http(rp.http.url, rp.http.acceptStatus ?? DEFAULT_ACCEPT, token);
    return { outcome: 'Error', message: 'no probe configured' };
  }

  private async tokenReview(audiences: string[] | undefined, token: string): Promise<ProbeAnswer> {
    try {
      const review = await this.authentication.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(audiences === undefined || audiences.length === 0 ? {} : { audiences }) },
        },
      });
      const status = review.status;
      if (status?.authenticated === true)
        return {
          outcome: 'Accepted',
          message: `the API server authenticated it as ${status.user?.username ?? '(no name)'}`,
        };
      return {
        outcome: 'Refused',
        message: `the API server did not authenticate it${status?.error ? `: ${status.error.slice(0, 200)}` : ''}`,
      };
    } catch (error) {
      return { outcome: 'Error', message: `TokenReview failed: ${describeError(error)}` };
    }
  }

  private async http(url: string, accept: readonly number[], token: string): Promise<ProbeAnswer> {
    let where: string;
    try {
      const u = new URL(url);
      where = `${u.origin}${u.pathname}`;
    } catch {
      return { outcome: 'Error', message: 'the probe URL is not a URL' };
    }
    try {
      const response = await fetch(url, {
        method: 'GET',
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body?.cancel();
      if (accept.includes(response.status))
        return { outcome: 'Accepted', message: `${where} answered ${response.status}` };
      if (response.status === 401 || response.status === 403)
        return { outcome: 'Refused', message: `${where} answered ${response.status}` };
      return {
        outcome: 'Error',
        message: `${where} answered ${response.status}, neither accepted nor refused`,
      };
    } catch (error) {
      const cause =
        error instanceof Error
          ? error.cause instanceof Error
            ? error.cause.message
            : error.message
          : String(error);
      return { outcome: 'Error', message: `${where}: ${cause}` };
    }
  }
}
