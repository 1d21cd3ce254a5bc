/**
 * The API clients of one operator process: every request of a pass takes a token from one bucket
 * (KUBE_API_QPS, KUBE_API_BURST), Events from a bucket of their own; the watches and the Lease
 * renewals take none, so a busy operator can neither starve its leadership nor miss events.
 */
import * as k8s from '@kubernetes/client-node';
import { limitedClient, TokenBucket } from '../adapters/kubernetes/rate-limit.ts';
import type { Config } from '../config.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';
import type { OperatorHooks } from './hooks.ts';

export interface ApiClients {
  kubeConfig: k8s.KubeConfig;
  /** The passes' bucket: a progress-only status write goes out only while it is full. */
  bucket: TokenBucket;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  objects: k8s.KubernetesObjectApi;
  /** For the Event lane only. */
  eventsCore: k8s.CoreV1Api;
  /** TokenReviews: the probes of relying parties that are the API server itself. */
  authentication: k8s.AuthenticationV1Api;
}

export function apiClients(config: Config, metrics: OperatorMetrics, hooks: OperatorHooks): ApiClients {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  const bucket = new TokenBucket(config.kubeApiQps, config.kubeApiBurst, (seconds) => {
    metrics.throttled('passes', seconds);
  });
  const eventBucket = new TokenBucket(config.kubeApiEventQps, config.kubeApiEventBurst, (seconds) => {
    metrics.throttled('events', seconds);
  });
  const before = hooks.beforeRequest;
  return {
    kubeConfig,
    bucket,
    core: limitedClient(kubeConfig, k8s.CoreV1Api, bucket, before),
    custom: limitedClient(kubeConfig, k8s.CustomObjectsApi, bucket, before),
    objects: limitedClient(kubeConfig, k8s.KubernetesObjectApi, bucket, before),
    eventsCore: limitedClient(kubeConfig, k8s.CoreV1Api, eventBucket, before),
    authentication: limitedClient(kubeConfig, k8s.AuthenticationV1Api, bucket, before),
  };
}
