import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startOpenAiEmulator } from './server.js';

/**
 * `npm run emulator -- [--flavor openai|azure-openai] [--port N] [--api-key K] [--webhook-url URL]…`: the
 * OpenAI fine-tuning emulator on its own, or Azure OpenAI's v1 API with `--flavor azure-openai`. Each --webhook-url registers an endpoint, and its signing secret is printed once, as OpenAI's
 * dashboard shows it once.
 */
const USAGE =
  'Usage: npm run emulator -- [--flavor openai|azure-openai] [--port N] [--api-key KEY] [--validating-ms N] [--queued-ms N] [--ms-per-step N]' +
  ' [--webhook-url URL]... [--webhook-retry-base-ms N] [--webhook-max-attempts N]';

function parse() {
  try {
    const { values } = parseArgs({
      options: {
        flavor: { type: 'string', default: 'openai' },
        port: { type: 'string', default: '0' },
        'api-key': { type: 'string' },
        'validating-ms': { type: 'string' },
        'queued-ms': { type: 'string' },
        'ms-per-step': { type: 'string' },
        'webhook-url': { type: 'string', multiple: true },
        'webhook-retry-base-ms': { type: 'string' },
        'webhook-max-attempts': { type: 'string' },
      },
    });
    const number = (name: string, value: string | undefined) => {
      if (value === undefined) return undefined;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < 0)
        throw new Error(`--${name} must be a whole number, not "${value}"`);
      return parsed;
    };
    const timing = {
      ...(values['validating-ms'] ? { validatingMs: number('validating-ms', values['validating-ms']) } : {}),
      ...(values['queued-ms'] ? { queuedMs: number('queued-ms', values['queued-ms']) } : {}),
      ...(values['ms-per-step'] ? { msPerStep: number('ms-per-step', values['ms-per-step']) } : {}),
      ...(values['webhook-retry-base-ms']
        ? { webhookRetryBaseMs: number('webhook-retry-base-ms', values['webhook-retry-base-ms']) }
        : {}),
      ...(values['webhook-max-attempts']
        ? { webhookMaxAttempts: number('webhook-max-attempts', values['webhook-max-attempts']) }
        : {}),
    };
    const flavor = z.enum(['openai', 'azure-openai']).safeParse(values.flavor);
    if (!flavor.success) throw new Error(`--flavor must be openai or azure-openai, not "${values.flavor}"`);
    const webhookUrls = values['webhook-url'] ?? [];
    for (const url of webhookUrls)
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
        throw new Error(`--webhook-url must be an http(s) URL, not "${url}"`);
    return {
      flavor: flavor.data,
      port: number('port', values.port)!,
      apiKey: values['api-key'],
      timing,
      webhookUrls,
    };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const { flavor, port, apiKey, timing, webhookUrls } = parse();
const emulator = await startOpenAiEmulator({
  flavor,
  port,
  ...(apiKey ? { apiKey } : {}),
  timing: timing as never,
  webhookEndpoints: webhookUrls.map((url) => ({ url })),
});
if (flavor === 'azure-openai') {
  console.log(`Azure OpenAI emulator: endpoint ${emulator.endpoint}`);
  console.log(
    `Point the openai client at baseURL ${emulator.endpoint}/openai/v1/ with header api-key: ${apiKey ?? 'any-non-empty-key'}`,
  );
} else console.log(`OpenAI emulator listening at ${emulator.baseUrl}`);
for (const endpoint of emulator.webhookEndpoints)
  console.log(
    `Webhook endpoint ${endpoint.id} → ${endpoint.url}: fine_tuning.job.succeeded/failed/cancelled, ` +
      `signing secret OPENAI_WEBHOOK_SECRET=${endpoint.secret}`,
  );
console.log(
  `Point a client at it: OPENAI_BASE_URL=${emulator.baseUrl} OPENAI_API_KEY=${apiKey ?? 'any-non-empty-key'}`,
);
const stop = async () => {
  await emulator.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
