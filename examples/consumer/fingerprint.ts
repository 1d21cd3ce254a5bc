/** The key fingerprint (`kid` of an HMAC key) and the RFC 7638 thumbprint: the consumer kit's. */
export { fingerprint, jwkThumbprint } from '@jwt-rotation-operator/consumer-kit';
