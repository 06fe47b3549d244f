import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { constants as http2Constants, createServer as createHttp2Server } from 'node:http2';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { LocalBedrock } from './bedrock.js';
import { TITAN_EMBED_V2, TitanValidationError, titanEmbedding } from './titan-embeddings.js';

/**
 * Amazon Bedrock's runtime, locally: the REST-JSON API that @aws-sdk/client-bedrock-runtime speaks
 * (through AWS_ENDPOINT_URL_BEDROCK_RUNTIME), serving Converse, POST /model/{modelId}/converse → 200 (the
 * client's schemas, node_modules/@aws-sdk/client-bedrock-runtime/dist-es/schemas/schemas_0.js, 3.1164.0,
 * read 2026-11-30). The modelId is an Active custom model deployment's ARN or an on-demand Nova base
 * model's id; the local Bedrock (bedrock.ts `chat`) says which model answers and answers through the
 * OpenAI emulator's completeChat, so a model trained here answers Converse as the emulator answers a chat
 * completion.
 *
 * The request (ConverseRequest): `messages` (Message: role user|assistant, content blocks), `system`
 * (SystemContentBlock), `inferenceConfig` (maxTokens, temperature, topP, stopSequences). The answer
 * (ConverseResponse, required output, stopReason, usage, metrics): output.message {role assistant,
 * content [{text}]}, stopReason end_turn | max_tokens, usage {inputTokens, outputTokens, totalTokens},
 * metrics {latencyMs}. Converse has no logprobs. InvokeModel, POST /model/{modelId}/invoke, answers
 * Titan Text Embeddings V2 only (titan-embeddings.ts), with the control plane's faults for the operation
 * `InvokeModel` (throttle → 429 ThrottlingException, status, reset; bedrock-faults.ts); IAM authorizes it
 * as bedrock:InvokeModel on the foundation model's ARN (iam/requests.ts). Not emulated: ConverseStream,
 * InvokeModel of other models, tools,
 * images and documents (a non-text block is refused), guardrails, prompt caching, topP (accepted, no
 * effect); a stop sequence ends the answer, reported as end_turn (the emulator does not say which stop
 * ended it).
 */

export interface LocalBedrockRuntime {
  endpoint: string;
  /** Converse calls answered, by the modelId they named (refused calls are not counted). */
  converseCalls(): Record<string, ConverseUsage>;
  /** InvokeModel calls answered (Titan embeddings), by modelId: calls and inputTextTokenCount summed. */
  invokeModelCalls(): Record<string, InvokeModelUsage>;
  close(): Promise<void>;
}

export interface InvokeModelUsage {
  calls: number;
  inputTokens: number;
}

export interface ConverseUsage {
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

class RuntimeError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status per error, from the runtime client's schemas (each error's `httpError` trait). */
const ERROR_STATUS: Record<string, number> = {
  AccessDeniedException: 403,
  InternalServerException: 500,
  ModelNotReadyException: 429,
  ResourceNotFoundException: 404,
  ThrottlingException: 429,
  ValidationException: 400,
};

/**
 * A content block: a union of which exactly one member is set (ContentBlock, SystemContentBlock). Only
 * text is answered here; another member is refused by name.
 */
const Block = z.record(z.string(), z.unknown());
const ConverseBody = z.object({
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.array(Block) })).optional(),
  system: z.array(Block).optional(),
  inferenceConfig: z
    .object({
      maxTokens: z.number().int().min(1).optional(),
      // Converse's temperature is 0..1 (InferenceConfiguration, Converse API reference, read 2026-11-30).
      temperature: z.number().min(0).max(1).optional(),
      topP: z.number().min(0).max(1).optional(),
      // The emulator takes up to 4 stop sequences; more is its ValidationException.
      stopSequences: z.array(z.string()).optional(),
    })
    .optional(),
});
type ConverseBody = z.infer<typeof ConverseBody>;

export async function startLocalBedrockRuntime(bedrock: LocalBedrock): Promise<LocalBedrockRuntime> {
  const usage = new Map<string, ConverseUsage>();
  const invoked = new Map<string, InvokeModelUsage>();

  /** InvokeModel: Titan Text Embeddings V2, after the operation's injected fault if any. */
  function invoke(modelId: string, body: Buffer, outgoing: ServerResponse): void {
    const fault = bedrock.faults.take('InvokeModel');
    if (fault?.kind === 'reset') return void outgoing.destroy();
    if (fault?.kind === 'throttle')
      // The control plane's throttle answer (bedrock.ts), the runtime's ThrottlingException.
      return sendError(
        outgoing,
        new RuntimeError('ThrottlingException', 'Too many requests, please wait before trying again.'),
      );
    if (fault?.kind === 'status')
      return sendError(
        outgoing,
        new RuntimeError(fault.errorType, fault.message ?? fault.errorType),
        fault.status,
      );
    if (modelId !== TITAN_EMBED_V2)
      // "The provided model identifier is invalid." is Bedrock's answer to an unknown model id, as
      // remembered (not found in a stored source); a known model other than Titan is not served locally.
      return sendError(
        outgoing,
        new RuntimeError(
          'ValidationException',
          `The provided model identifier is invalid. Locally, InvokeModel serves only ${TITAN_EMBED_V2}.`,
        ),
      );
    let answer: ReturnType<typeof titanEmbedding>;
    try {
      answer = titanEmbedding(body);
    } catch (error) {
      if (error instanceof TitanValidationError)
        return sendError(outgoing, new RuntimeError('ValidationException', error.message));
      throw error;
    }
    const seen = invoked.get(modelId) ?? { calls: 0, inputTokens: 0 };
    invoked.set(modelId, { calls: seen.calls + 1, inputTokens: seen.inputTokens + answer.tokens });
    if (fault?.kind === 'lostResponse') return void outgoing.destroy();
    outgoing.writeHead(200, {
      'content-type': 'application/json',
      'x-amzn-requestid': randomUUID(),
    });
    outgoing.end(JSON.stringify(answer.body));
  }

  const server = createServer((incoming, outgoing) => {
    void handle(incoming, outgoing).catch((error: unknown) => {
      if (!outgoing.headersSent)
        sendError(outgoing, new RuntimeError('InternalServerException', String(error)));
      else outgoing.destroy();
    });
  });

  async function handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(incoming.url ?? '/', 'http://local');
    // The modelId is one path label, its ':' and '/' percent-encoded by the client.
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = (incoming.method ?? 'GET').toUpperCase();
    const body = await readBody(incoming);
    if (method === 'POST' && segments.length === 3 && segments[0] === 'model' && segments[2] === 'invoke')
      return invoke(segments[1]!, body, outgoing);
    if (method !== 'POST' || segments.length !== 3 || segments[0] !== 'model' || segments[2] !== 'converse')
      return sendError(
        outgoing,
        new RuntimeError('ValidationException', `No operation at ${method} ${url.pathname} locally.`),
        404,
      );
    const modelId = segments[1]!;
    try {
      const request = parse(body);
      const answer = bedrock.chat(modelId, chatBody(request));
      if ('refused' in answer) throw new RuntimeError(answer.refused.type, answer.refused.message);
      const completion = answer.answered.body;
      const choice = completion.choices[0] as {
        message: { content: string };
        finish_reason: 'stop' | 'length';
      };
      const seen = usage.get(modelId) ?? { calls: 0, inputTokens: 0, outputTokens: 0 };
      usage.set(modelId, {
        calls: seen.calls + 1,
        inputTokens: seen.inputTokens + completion.usage.prompt_tokens,
        outputTokens: seen.outputTokens + completion.usage.completion_tokens,
      });
      outgoing.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() });
      outgoing.end(
        JSON.stringify({
          output: { message: { role: 'assistant', content: [{ text: choice.message.content }] } },
          stopReason: choice.finish_reason === 'length' ? 'max_tokens' : 'end_turn',
          usage: {
            inputTokens: completion.usage.prompt_tokens,
            outputTokens: completion.usage.completion_tokens,
            totalTokens: completion.usage.total_tokens,
          },
          metrics: { latencyMs: Date.now() - started },
        }),
      );
    } catch (error) {
      if (error instanceof RuntimeError) return sendError(outgoing, error);
      throw error;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    converseCalls: () => Object.fromEntries([...usage].map(([id, u]) => [id, { ...u }])),
    invokeModelCalls: () => Object.fromEntries([...invoked].map(([id, u]) => [id, { ...u }])),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The body checked as the client's schema has it; messages is required (ConverseRequest). */
function parse(body: Buffer): ConverseBody {
  let raw: unknown = {};
  if (body.length)
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RuntimeError('ValidationException', 'The request body is not valid JSON.');
    }
  const parsed = ConverseBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RuntimeError(
      'ValidationException',
      `1 validation error detected: Value at '${issue.path.join('.')}' failed to satisfy constraint: ${issue.message}`,
    );
  }
  if (!parsed.data.messages?.length)
    throw new RuntimeError(
      'ValidationException',
      "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null",
    );
  return parsed.data;
}

/**
 * The OpenAI chat completion body the Converse request asks for: the system blocks as one system message
 * and each message's text blocks joined by newlines, as the local Bedrock converts a training record
 * (bedrock-models.ts readDataset), so that a model is asked the way it learned.
 */
function chatBody(request: ConverseBody): Record<string, unknown> {
  const text = (blocks: Array<Record<string, unknown>>, where: string) =>
    blocks
      .map((block, i) => {
        const kind = Object.keys(block).find((k) => block[k] !== undefined && block[k] !== null);
        if (kind === 'text' && typeof block.text === 'string') return block.text;
        throw new RuntimeError(
          'ValidationException',
          `The ${kind ?? 'empty'} content block at ${where}.${i} is not supported locally: the local Bedrock answers text only.`,
        );
      })
      .join('\n');
  const system = request.system?.length ? text(request.system, 'system') : undefined;
  const config = request.inferenceConfig ?? {};
  return {
    messages: [
      ...(system !== undefined ? [{ role: 'system', content: system }] : []),
      ...request.messages!.map((m, i) => ({
        role: m.role,
        content: text(m.content, `messages.${i}.content`),
      })),
    ],
    ...(config.maxTokens !== undefined ? { max_tokens: config.maxTokens } : {}),
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config.stopSequences?.length ? { stop: config.stopSequences } : {}),
  };
}

/**
 * The Bedrock Runtime client speaks HTTP/2 (its default request handler is @smithy/node-http-handler's
 * NodeHttp2Handler, node_modules/@aws-sdk/client-bedrock-runtime/dist-es/runtimeConfig.js, 3.1164.0), and
 * to an http:// endpoint that is HTTP/2 without TLS, with prior knowledge. The IAM gateway and the servers
 * behind it speak HTTP/1.1, so the endpoint functions are given is this front: a connection that opens
 * with HTTP/2's preface has its streams forwarded as HTTP/1.1 requests to `upstream` (the gateway), any
 * other connection is passed through to it byte for byte (curl, fetch, an SDK client given an HTTP/1.1
 * handler).
 */
export async function startHttp2Front(
  upstream: string,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  const h2 = createHttp2Server();
  h2.on('stream', (stream, headers) => {
    const forwarded: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers))
      if (!name.startsWith(':') && value !== undefined) forwarded[name] = value;
    forwarded.host = headers[':authority'] ?? target.host;
    const request = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: headers[':method'] ?? 'GET',
        path: headers[':path'] ?? '/',
        headers: forwarded,
      },
      (response) => {
        const answer: Record<string, string | string[] | number> = { ':status': response.statusCode ?? 502 };
        // Connection-specific headers are not allowed in HTTP/2 (RFC 9113 §8.2.2).
        for (const [name, value] of Object.entries(response.headers))
          if (
            value !== undefined &&
            !['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'].includes(name)
          )
            answer[name] = value;
        stream.respond(answer);
        response.pipe(stream);
      },
    );
    request.on('error', () => stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR));
    stream.pipe(request);
  });
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (first.toString('latin1', 0, HTTP2_PREFACE.length) === HTTP2_PREFACE) {
        socket.unshift(first);
        h2.emit('connection', socket);
        process.nextTick(() => socket.resume());
        return;
      }
      const upstreamSocket = connect(Number(target.port), target.hostname);
      sockets.add(upstreamSocket);
      upstreamSocket.on('close', () => sockets.delete(upstreamSocket));
      upstreamSocket.on('error', () => socket.destroy());
      socket.on('error', () => upstreamSocket.destroy());
      upstreamSocket.write(first);
      socket.pipe(upstreamSocket).pipe(socket);
      socket.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        h2.close();
        server.close(() => resolve());
      }),
  };
}
const HTTP2_PREFACE = 'PRI * HTTP/2.0';

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** An error as REST-JSON carries it: the type in `x-amzn-errortype`, the message in the body. */
function sendError(response: ServerResponse, error: RuntimeError, status?: number): void {
  response.writeHead(status ?? ERROR_STATUS[error.type] ?? 400, {
    'content-type': 'application/json',
    'x-amzn-errortype': error.type,
    'x-amzn-requestid': randomUUID(),
  });
  response.end(JSON.stringify({ message: error.message }));
}
