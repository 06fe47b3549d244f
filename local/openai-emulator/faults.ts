/**
 * Provider faults, switchable per test: what the live API does on a bad day.
 *
 * Request faults match a method and a path pattern (`POST /fine_tuning/jobs`, `GET /fine_tuning/jobs/*`)
 * and apply to the next `times` matching requests:
 *   status       answer with an HTTP error (429 with or without Retry-After, 500, 503, 403
 *                training_not_available…) without doing anything
 *   insufficientQuota  answer 429 as OpenAI does when the organization is out of credit or past its
 *                spend limit: {message: "You exceeded your current quota, please check your plan and
 *                billing details. …", type: "insufficient_quota", param: null, code:
 *                "insufficient_quota"}, as the live API answered
 *                (https://github.com/ChatGPTNextWeb/NextChat/issues/3123, 2023-11-01; the docs' error
 *                codes list the same 429 message: https://platform.openai.com/docs/guides/error-codes,
 *                both read 2026-11-29). A retry cannot help, unlike a rate limit's 429.
 *   reset        drop the connection before doing anything
 *   slow         answer after `delayMs`
 *   lostResponse do the work, then drop the connection: the caller cannot know it succeeded
 *   rateLimit    answer 429 as OpenAI does when a rate limit is reached (rateLimitEmbeddings below):
 *                {message: "Rate limit reached for <model> in organization <org> on requests per min
 *                (RPM): Limit L, Used L, Requested 1. Please try again in Ns. Visit
 *                https://platform.openai.com/account/rate-limits to learn more.", type: "requests" (or
 *                "tokens" for TPM), param: null, code: "rate_limit_exceeded"}, as the live API answered
 *                (Elliott-Chong/chatpdf-yt#39, 2023-12-29, requests; VectorInstitute/health-rec#103,
 *                2025-09-02, tokens, text-embedding-3-small; read 2026-11-30), with `retry-after` and the
 *                x-ratelimit-* headers OpenAI sends on every answer (docs/embeddings-facts.md 1.6)
 * Job faults apply to the next job created:
 *   failWith     the job fails while running, with this error
 *   stuckIn      the job never leaves `queued`
 *   noResultFile the job succeeds without a result file
 * Batch faults apply to the next batch created (batches.ts):
 *   expireAfter  the batch expires once it has answered this many requests: OpenAI's guide says a batch
 *                not done within its window moves to `expired`, its unfinished requests are cancelled and
 *                written to the error file with code batch_expired, and its answered ones are in the output
 *                file and billed (https://platform.openai.com/docs/guides/batch, "Batch expiration", read
 *                2026-11-30)
 *   failWith     the batch fails while validating, with this error in errors.data (line and param null),
 *                as a batch whose input OpenAI refuses ends
 * Batch line faults (failNextBatchLines) apply to the lines of any batch, each chosen line once: it is
 *   answered with this HTTP error (500 server_error by default) in the error file, so that a client's
 *   retry of its failed lines succeeds.
 * Deployment faults apply to the next Azure deployment created or updated (azure-management.ts):
 *   fail         the deployment ends with provisioningState Failed instead of Succeeded
 *   stuckCreating the deployment never leaves Creating
 * Webhook faults apply to the next webhook event the emulator emits (one event, every endpoint):
 *   lose         the event is never delivered, as if lost on OpenAI's side
 *   duplicate    the event is delivered twice, same webhook-id and body: OpenAI's guide says "In rare
 *                cases, due to internal system issues, OpenAI may deliver duplicate copies of the same
 *                webhook event" (https://platform.openai.com/docs/guides/webhooks, read 2026-11-29)
 *   delay        the first attempt goes out this many milliseconds late
 */
export type RequestFault =
  | { kind: 'status'; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  | { kind: 'insufficientQuota' }
  | { kind: 'reset' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'lostResponse' }
  | {
      kind: 'rateLimit';
      /** The model the message names. */
      model: string;
      /** `requests` (RPM) or `tokens` (TPM): the limit reached, the error's type. */
      limit: 'requests' | 'tokens';
      retryAfterSeconds: number;
    };

/** The error a failed batch line is answered with (failNextBatchLines). */
export interface BatchLineFault {
  status: number;
  message?: string;
  code?: string;
}

export interface RequestFaultRule {
  method: string;
  /** Path below /v1, `*` matching one segment: `/fine_tuning/jobs/*`. */
  path: string;
  fault: RequestFault;
  /** How many matching requests it applies to. @default 1 */
  times?: number;
}

export interface JobFault {
  failWith?: { code: string; message: string };
  stuckIn?: 'queued';
  noResultFile?: boolean;
}

export interface BatchFault {
  expireAfter?: number;
  failWith?: { code: string; message: string };
}

export interface DeploymentFault {
  fail?: boolean;
  stuckCreating?: boolean;
}

export interface WebhookFault {
  lose?: boolean;
  duplicate?: boolean;
  delay?: number;
}

export class Faults {
  private rules: Array<Required<RequestFaultRule>> = [];
  private jobFaults: JobFault[] = [];
  private webhookFaults: WebhookFault[] = [];
  private batchFaults: BatchFault[] = [];
  private deploymentFaults: DeploymentFault[] = [];
  private lineFaults: Array<{ left: number; customIds: Set<string> | null; fault: BatchLineFault }> = [];
  /** Requests that met a fault, for assertions ("retried three times"). */
  readonly applied: Array<{ method: string; path: string; fault: RequestFault['kind'] }> = [];

  onRequest(rule: RequestFaultRule): this {
    this.rules.push({ times: 1, ...rule });
    return this;
  }

  onNextJob(fault: JobFault): this {
    this.jobFaults.push(fault);
    return this;
  }

  onNextBatch(fault: BatchFault): this {
    this.batchFaults.push(fault);
    return this;
  }

  onNextDeployment(fault: DeploymentFault): this {
    this.deploymentFaults.push(fault);
    return this;
  }

  /**
   * The next `times` POST /v1/embeddings answer 429 rate_limit_exceeded (see `rateLimit` above), with
   * `retry-after: retryAfterSeconds` (default 1), so that a client's backoff can be tested.
   */
  rateLimitEmbeddings(
    times: number,
    options: { retryAfterSeconds?: number; model?: string; limit?: 'requests' | 'tokens' } = {},
  ): this {
    return this.onRequest({
      method: 'POST',
      path: '/embeddings',
      times,
      fault: {
        kind: 'rateLimit',
        model: options.model ?? 'text-embedding-3-small',
        limit: options.limit ?? 'requests',
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
      },
    });
  }

  /**
   * Fails batch lines once: the next `count` lines answered (of any batch), or each line whose custom_id is
   * listed, the first time it is answered. A failed line goes to the error file with `fault`'s status
   * (500 by default) and error body, and counts in request_counts.failed.
   */
  failNextBatchLines(target: number | readonly string[], fault: Partial<BatchLineFault> = {}): this {
    this.lineFaults.push({
      left: typeof target === 'number' ? target : target.length,
      customIds: typeof target === 'number' ? null : new Set(target),
      fault: { status: 500, ...fault },
    });
    return this;
  }

  /** The fault for this batch line, if any; consumes it. */
  takeBatchLineFault(customId: string): BatchLineFault | undefined {
    for (const rule of this.lineFaults) {
      if (rule.left <= 0) continue;
      if (rule.customIds && !rule.customIds.delete(customId)) continue;
      rule.left -= 1;
      return rule.fault;
    }
    return undefined;
  }

  onNextWebhook(fault: WebhookFault): this {
    this.webhookFaults.push(fault);
    return this;
  }

  clear(): void {
    this.rules = [];
    this.jobFaults = [];
    this.webhookFaults = [];
    this.batchFaults = [];
    this.deploymentFaults = [];
    this.lineFaults = [];
    this.applied.length = 0;
  }

  /** The fault for this request, if any; consumes one use. */
  take(method: string, path: string): RequestFault | undefined {
    const rule = this.rules.find((r) => r.times > 0 && r.method === method && matches(r.path, path));
    if (!rule) return undefined;
    rule.times -= 1;
    this.applied.push({ method, path, fault: rule.fault.kind });
    return rule.fault;
  }

  takeJobFault(): JobFault {
    return this.jobFaults.shift() ?? {};
  }

  takeBatchFault(): BatchFault {
    return this.batchFaults.shift() ?? {};
  }

  takeDeploymentFault(): DeploymentFault {
    return this.deploymentFaults.shift() ?? {};
  }

  takeWebhookFault(): WebhookFault {
    return this.webhookFaults.shift() ?? {};
  }
}

function matches(pattern: string, path: string): boolean {
  const a = pattern.split('/');
  const b = path.split('/');
  return a.length === b.length && a.every((part, i) => part === '*' || part === b[i]);
}
