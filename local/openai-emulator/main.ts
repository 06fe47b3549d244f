import { parseArgs } from 'node:util';
import { startOpenAiEmulator } from './server.js';

/** `npm run emulator -- [--port N] [--api-key K]`: the OpenAI fine-tuning emulator on its own. */
const USAGE =
  'Usage: npm run emulator -- [--port N] [--api-key KEY] [--validating-ms N] [--queued-ms N] [--ms-per-step N]';

function parse() {
  try {
    const { values } = parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        'api-key': { type: 'string' },
        'validating-ms': { type: 'string' },
        'queued-ms': { type: 'string' },
        'ms-per-step': { type: 'string' },
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
    };
    return { port: number('port', values.port)!, apiKey: values['api-key'], timing };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const { port, apiKey, timing } = parse();
const emulator = await startOpenAiEmulator({ port, ...(apiKey ? { apiKey } : {}), timing: timing as never });
console.log(`OpenAI emulator listening at ${emulator.baseUrl}`);
console.log(
  `Point a client at it: OPENAI_BASE_URL=${emulator.baseUrl} OPENAI_API_KEY=${apiKey ?? 'any-non-empty-key'}`,
);
const stop = async () => {
  await emulator.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
