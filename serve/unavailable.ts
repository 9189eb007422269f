import type { FastifyReply } from 'fastify';

/**
 * Why the API answered 503. The status alone told an overloaded server (ask less, add a replica) from a
 * store that is down (page whoever runs it): a Grafana panel or an alert on 503s could not say which.
 * Every 503 names its reason in the answer's `reason` and in `concord_http_unavailable_total`.
 */
export const UNAVAILABLE_REASONS = ['busy', 'client_left', 'store_locked', 'store_down', 'redis_down', 'live_clients_full', 'shutting_down'] as const;
export type UnavailableReason = (typeof UNAVAILABLE_REASONS)[number];

const reasons = new WeakMap<FastifyReply, UnavailableReason>();

/** Answers 503 for `reason`, with Retry-After when given (seconds) and the body `{...body, reason}`. */
export function sendUnavailable(reply: FastifyReply, reason: UnavailableReason, retryAfterSeconds: number | undefined, body: Record<string, unknown>): FastifyReply {
  reasons.set(reply, reason);
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(503).send({ ...body, reason });
}

/** The reason `reply` was answered 503 with; `shutting_down` for one Fastify answered itself (the server closing). */
export function unavailableReason(reply: FastifyReply): UnavailableReason {
  return reasons.get(reply) ?? 'shutting_down';
}
