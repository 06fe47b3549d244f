import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { z } from 'zod';
import type { Authorizer, Principal } from './iam/authorizer.js';

/**
 * Local X-Ray: the daemon Lambda runs beside each function, and what X-Ray keeps of it.
 *
 * On Lambda with active tracing, "Lambda runs the X-Ray daemon and records a segment with details about
 * invoking and running the function"; the X-Ray SDK in the function sends its subsegments to that daemon
 * over UDP (AWS_XRAY_DAEMON_ADDRESS), each datagram a header line `{"format": "json", "version": 1}`
 * then one segment document, and the daemon relays them to X-Ray's API (PutTraceSegments) with the
 * environment's credentials, the execution role's: AWS's policy for daemons, AWSXRayDaemonWriteAccess,
 * grants xray:PutTraceSegments for that, as CDK's active tracing grants the role. Sources, read
 * 2026-11-30: AWS X-Ray developer guide, "AWS Lambda and AWS X-Ray"
 * (https://docs.amazonaws.cn/en_us/xray/latest/devguide/xray-services-lambda.html); the daemon's README,
 * "Sending Segment Documents" (aws/aws-xray-daemon, https://pkg.go.dev/github.com/aws/aws-xray-daemon);
 * AWS managed policy reference, AWSXRayDaemonWriteAccess
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html).
 *
 * So here each function has a daemon of its own: a UDP socket on 127.0.0.1 (an ephemeral port) that
 * speaks that protocol and uploads as the function's role. An upload local IAM refuses is recorded as a
 * denial and its segments are lost, as on AWS, where the daemon logs the AccessDenied and drops the batch.
 * Uploads are batches of what arrived within a few milliseconds (the real daemon batches too).
 *
 * What X-Ray keeps is flattened: every segment and every subsegment (nested ones included) is one
 * `TraceSegment`, with its trace id, its parent and its annotations, for tests to read.
 *
 * Not done locally: Lambda's own `AWS::Lambda` service segment, Step Functions' segments (the execution
 * and its tasks' subsegments: a function's segment names the task's parent id, which no local segment
 * has), the service graph, sampling rules (every traced request is sampled here; Lambda samples requests
 * that arrive without a trace header at a fixed rate) and telemetry records (xray:PutTelemetryRecords).
 */

/** `Root=…;Parent=…;Sampled=…` as Lambda sets it in `_X_AMZN_TRACE_ID` and services pass it on. */
export interface TraceHeader {
  root: string;
  parent?: string;
  /** Undefined when the header made no sampling decision: the receiving service makes one. */
  sampled?: boolean;
}

export function formatTraceHeader(header: TraceHeader): string {
  return [
    `Root=${header.root}`,
    ...(header.parent ? [`Parent=${header.parent}`] : []),
    ...(header.sampled === undefined ? [] : [`Sampled=${header.sampled ? 1 : 0}`]),
  ].join(';');
}

export function parseTraceHeader(text: string): TraceHeader | undefined {
  const fields = new Map(
    text.split(';').map((field) => {
      const at = field.indexOf('=');
      return [field.slice(0, at).trim(), field.slice(at + 1).trim()] as const;
    }),
  );
  const root = fields.get('Root');
  if (!root || !TRACE_ID.test(root)) return undefined;
  const parent = fields.get('Parent');
  const sampled = fields.get('Sampled');
  return {
    root,
    ...(parent ? { parent } : {}),
    ...(sampled === '1' ? { sampled: true } : sampled === '0' ? { sampled: false } : {}),
  };
}

/**
 * A new trace id: version 1, the epoch second in 8 hex digits, 96 random bits in 24 hex digits (X-Ray
 * developer guide, "Segment documents", trace_id, read 2026-11-30).
 */
export function newTraceId(at = new Date()): string {
  return `1-${Math.floor(at.getTime() / 1000)
    .toString(16)
    .padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
}

/** A new segment or subsegment id: 64 bits, 16 hex digits. */
export function newSegmentId(): string {
  return randomBytes(8).toString('hex');
}

const TRACE_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const SEGMENT_ID = /^[0-9a-f]{16}$/;

/** The daemon protocol's header line. */
const HeaderSchema = z.object({ format: z.literal('json'), version: z.literal(1) });

type Annotations = Record<string, string | number | boolean>;

/**
 * The fields of a segment document X-Ray requires, and the ones read here (X-Ray developer guide,
 * "AWS X-Ray segment documents", read 2026-11-30): a name of at most 200 characters, a 16-hex-digit id,
 * the trace id, a start time, and an end time unless it is in progress; a subsegment sent on its own says
 * `type: "subsegment"` and names its parent. Annotations are strings, numbers or booleans.
 */
interface SubsegmentDocument {
  name: string;
  id: string;
  start_time: number;
  end_time?: number | undefined;
  in_progress?: boolean | undefined;
  namespace?: string | undefined;
  origin?: string | undefined;
  annotations?: Annotations | undefined;
  metadata?: Record<string, unknown> | undefined;
  aws?: Record<string, unknown> | undefined;
  error?: boolean | undefined;
  fault?: boolean | undefined;
  subsegments?: SubsegmentDocument[] | undefined;
}
const SubsegmentSchema: z.ZodType<SubsegmentDocument> = z.lazy(() =>
  z
    .looseObject({
      name: z.string().min(1).max(200),
      id: z.string().regex(SEGMENT_ID),
      start_time: z.number(),
      end_time: z.number().optional(),
      in_progress: z.boolean().optional(),
      namespace: z.string().optional(),
      origin: z.string().optional(),
      annotations: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      metadata: z.record(z.string(), z.unknown()).optional(),
      aws: z.record(z.string(), z.unknown()).optional(),
      error: z.boolean().optional(),
      fault: z.boolean().optional(),
      subsegments: z.array(SubsegmentSchema).optional(),
    })
    .refine((d) => d.end_time !== undefined || d.in_progress === true, {
      message: 'a segment needs end_time unless in_progress is true',
    }),
);
const DocumentSchema = z.intersection(
  SubsegmentSchema,
  z.looseObject({
    trace_id: z.string().regex(TRACE_ID),
    parent_id: z.string().regex(SEGMENT_ID).optional(),
    type: z.literal('subsegment').optional(),
  }),
);
export type SegmentDocument = z.infer<typeof DocumentSchema>;

/** A segment or subsegment as X-Ray keeps it, flattened. */
export interface TraceSegment {
  traceId: string;
  id: string;
  /** The segment or subsegment it belongs to; none for a trace's first segment. */
  parentId?: string;
  name: string;
  /** 'segment' for a whole segment document, 'subsegment' otherwise (nested or sent on its own). */
  kind: 'segment' | 'subsegment';
  /** `aws` for an AWS SDK call, `remote` for another HTTP call. */
  namespace?: string;
  origin?: string;
  /** The AWS call's operation, for an `aws` subsegment (e.g. `PutItem`). */
  operation?: string;
  annotations: Annotations;
  /** Not indexed, kept as sent: the Tracer puts a handler's response or error here. */
  metadata: Record<string, unknown>;
  error: boolean;
  fault: boolean;
  inProgress: boolean;
  /** The function whose daemon uploaded it. */
  functionName: string;
}

/** An upload the function's role may not make: its segments are not kept. */
export interface TraceDenial {
  functionName: string;
  principal: string;
  message: string;
  segments: number;
}

/**
 * Reads one datagram of the daemon protocol: the header line, then a segment document. Throws with the
 * reason on anything else (the daemon logs and drops such a datagram).
 */
export function parseDaemonDatagram(datagram: Buffer | string): SegmentDocument {
  const text = typeof datagram === 'string' ? datagram : datagram.toString('utf8');
  const newline = text.indexOf('\n');
  if (newline < 0)
    throw new Error('no header line: a datagram is {"format":"json","version":1}\\n<document>');
  const header = HeaderSchema.safeParse(parseJson(text.slice(0, newline)));
  if (!header.success) throw new Error(`not the daemon's header: ${text.slice(0, newline)}`);
  const document = DocumentSchema.safeParse(parseJson(text.slice(newline + 1)));
  if (!document.success)
    throw new Error(
      `not a segment document: ${document.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  if (document.data.type === 'subsegment' && !document.data.parent_id)
    throw new Error('a subsegment sent on its own needs parent_id');
  return document.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One document, with the subsegments nested in it, as flat TraceSegments. */
export function flattenDocument(document: SegmentDocument, functionName: string): TraceSegment[] {
  const out: TraceSegment[] = [];
  const visit = (d: SubsegmentDocument, parentId: string | undefined, kind: TraceSegment['kind']): void => {
    const operation = d.aws?.operation;
    out.push({
      traceId: document.trace_id,
      id: d.id,
      ...(parentId ? { parentId } : {}),
      name: d.name,
      kind,
      ...(d.namespace ? { namespace: d.namespace } : {}),
      ...(d.origin ? { origin: d.origin } : {}),
      ...(typeof operation === 'string' ? { operation } : {}),
      annotations: { ...d.annotations },
      metadata: { ...d.metadata },
      error: d.error === true,
      fault: d.fault === true,
      inProgress: d.in_progress === true,
      functionName,
    });
    for (const child of d.subsegments ?? []) visit(child, d.id, 'subsegment');
  };
  visit(document, document.parent_id, document.type === 'subsegment' ? 'subsegment' : 'segment');
  return out;
}

export interface LocalXRayOptions {
  /** Decides each upload (PutTraceSegments) as the function's role. */
  authorizer: Authorizer;
  /** Milliseconds a daemon gathers documents before uploading them. @default 5 */
  batchMs?: number;
}

export interface LocalXRay {
  /** Starts the daemon of a function: the address for its AWS_XRAY_DAEMON_ADDRESS. */
  daemonFor(functionName: string, principal: Principal): Promise<string>;
  /** Uploads a document as the function's daemon would (the segment Lambda records for an invocation). */
  send(functionName: string, document: SegmentDocument): void;
  /** Every segment and subsegment uploaded and kept so far, in arrival order. */
  traces(): TraceSegment[];
  /** Uploads refused by IAM. */
  denials(): TraceDenial[];
  /** Datagrams a daemon could not read, with why. */
  rejected(): Array<{ functionName: string; reason: string }>;
  /** Resolves once every document received so far has been uploaded or refused. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

interface Daemon {
  socket?: Socket;
  principal: Principal;
  pending: SegmentDocument[];
  timer?: NodeJS.Timeout;
}

export function startLocalXRay(options: LocalXRayOptions): LocalXRay {
  const daemons = new Map<string, Daemon>();
  const kept: TraceSegment[] = [];
  const denials: TraceDenial[] = [];
  const rejected: Array<{ functionName: string; reason: string }> = [];
  const uploads = new Set<Promise<void>>();
  const batchMs = options.batchMs ?? 5;

  const upload = async (functionName: string, daemon: Daemon, batch: SegmentDocument[]) => {
    // X-Ray's trace actions take no resource: IAM evaluates them on "*" (Service Authorization
    // Reference for AWS X-Ray, read 2026-11-29, as lib/tunedrop-function.ts grants them).
    const decision = await options.authorizer.check(daemon.principal, {
      action: 'xray:PutTraceSegments',
      resource: '*',
    });
    if (!decision.allowed) {
      denials.push({
        functionName,
        principal: daemon.principal.arn,
        message: decision.message,
        segments: batch.length,
      });
      return;
    }
    for (const document of batch) kept.push(...flattenDocument(document, functionName));
  };
  const flush = (functionName: string, daemon: Daemon) => {
    daemon.timer = undefined;
    const batch = daemon.pending.splice(0);
    if (batch.length === 0) return;
    const done = upload(functionName, daemon, batch).finally(() => uploads.delete(done));
    uploads.add(done);
  };
  const receive = (functionName: string, daemon: Daemon, document: SegmentDocument) => {
    daemon.pending.push(document);
    daemon.timer ??= setTimeout(() => flush(functionName, daemon), batchMs);
  };

  return {
    async daemonFor(functionName, principal) {
      const daemon: Daemon = { principal, pending: [] };
      const socket = createSocket('udp4');
      daemon.socket = socket;
      daemons.set(functionName, daemon);
      socket.on('message', (datagram) => {
        try {
          receive(functionName, daemon, parseDaemonDatagram(datagram));
        } catch (error) {
          rejected.push({ functionName, reason: (error as Error).message });
        }
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.unref();
      return `127.0.0.1:${socket.address().port}`;
    },
    send(functionName, document) {
      const daemon = daemons.get(functionName);
      if (daemon) receive(functionName, daemon, document);
    },
    traces: () => [...kept],
    denials: () => [...denials],
    rejected: () => [...rejected],
    async settle() {
      for (const [name, daemon] of daemons)
        if (daemon.timer) {
          clearTimeout(daemon.timer);
          flush(name, daemon);
        }
      while (uploads.size) await Promise.allSettled([...uploads]);
    },
    async close() {
      await this.settle();
      await Promise.all(
        [...daemons.values()].map(
          (daemon) =>
            new Promise<void>((resolve) => {
              if (!daemon.socket) return resolve();
              daemon.socket.close(() => resolve());
            }),
        ),
      );
      daemons.clear();
    },
  };
}
