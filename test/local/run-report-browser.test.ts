import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { PROJECT_ROOT } from '../../local/cloud/index.js';
import { resultRows } from '../../functions/core/results.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The run report as a person sees it: a real local run's report.html (written by Collect from the
 * emulator's results.csv) rendered by Debian's headless Chromium, and the screenshot read back to check
 * that the curves are drawn. The screenshot is the README's (docs/images/run-report.png).
 *
 * Chromium is Debian's `chromium` package (`apt-get install chromium`). Without it the test is skipped
 * on a developer's machine and fails in CI (CI set), saying so.
 */
const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
const SCREENSHOT = join(PROJECT_ROOT, 'docs/images/run-report.png');
const WIDTH = 1200;
const HEIGHT = 1600;
const run = promisify(execFile);

async function chromiumVersion(): Promise<string | undefined> {
  try {
    return (await run(CHROMIUM, ['--version'], { timeout: 30_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

const version = await chromiumVersion();
if (!version && process.env.CI) {
  throw new Error(
    `headless Chromium is needed to test the run report in a browser, and "${CHROMIUM}" could not be run: install Debian's chromium package (apt-get install -y chromium), or point CHROMIUM at it`,
  );
}
const describeWithChromium = version ? describe : describe.skip;

/** An RGB(A) image decoded from a PNG: what Chromium's screenshots are (8 bits, no palette, no interlace). */
interface Image {
  width: number;
  height: number;
  /** Red, green, blue of the pixel at (x, y). */
  rgb(x: number, y: number): [number, number, number];
}

/** A minimal PNG reader: IHDR, IDAT inflated with node's zlib, the five scanline filters undone. */
export function readPng(bytes: Buffer): Image {
  if (bytes.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, color, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (color !== 2 && color !== 6)) {
        throw new Error(`unsupported PNG: depth ${depth}, color type ${color}, interlace ${interlace}`);
      }
      channels = color === 6 ? 4 : 3;
    } else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i += 1) {
      const left = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const upLeft = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0;
      let predictor = 0;
      if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) {
        const p = left + up - upLeft;
        const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      }
      pixels[y * stride + i] = (line[i]! + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
    },
  };
}

/** Pixels of the train curves' blue (#2563eb) and the validation curves' orange (#ea580c), antialiasing allowed. */
function curvePixels(image: Image): { train: number; validation: number; rowsWithTrain: Set<number> } {
  let train = 0;
  let validation = 0;
  const rowsWithTrain = new Set<number>();
  for (let y = 0; y < image.height; y += 1) {
    for (let x = 0; x < image.width; x += 1) {
      const [r, g, b] = image.rgb(x, y);
      if (b > 180 && r < 110 && g > 70 && g < 150) {
        train += 1;
        rowsWithTrain.add(y);
      }
      if (r > 200 && g > 60 && g < 130 && b < 70) validation += 1;
    }
  }
  return { train, validation, rowsWithTrain };
}

describeWithChromium(`the run report in headless Chromium (${version ?? 'not installed'})`, () => {
  let harness: LocalHarness;
  let runId: string;
  let html: string;
  let dir: string;

  beforeAll(async () => {
    harness = await startLocalHarness({ apiKey: 'sk-test-report' });
    const record = await harness.dropAndWait(SAMPLE, 'incoming/support/support-tickets.jsonl');
    expect(record.status).toBe('SUCCEEDED');
    runId = record.runId;
    expect(record.reportKey).toBe(`runs/${runId}/report.html`);
    const { cloud } = harness;
    const object = await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: record.reportKey }));
    html = await object.Body!.transformToString();
    const head = await cloud.s3.send(new HeadObjectCommand({ Bucket: cloud.bucket, Key: record.reportKey }));
    expect(head.ContentType).toBe('text/html; charset=utf-8');
    dir = mkdtempSync(join(tmpdir(), 'tunedrop-report-'));
  });
  afterAll(async () => {
    await harness?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renders the curves of a real run, and the screenshot shows them', async () => {
    const csv = await harness.cloud.s3
      .send(new GetObjectCommand({ Bucket: harness.cloud.bucket, Key: `runs/${runId}/results.csv` }))
      .then((o) => o.Body!.transformToString());
    const rows = resultRows(csv);
    expect(rows.length).toBeGreaterThan(3);
    const validated = rows.some((r) => r.validLoss !== null);

    const page = join(dir, 'report.html');
    writeFileSync(page, html);
    const shot = join(dir, 'report.png');
    await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--hide-scrollbars',
        `--screenshot=${shot}`,
        `--window-size=${WIDTH},${HEIGHT}`,
        `file://${page}`,
      ],
      { timeout: 60_000 },
    );
    const bytes = readFileSync(shot);
    const image = readPng(bytes);
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    const pixels = curvePixels(image);
    // Two train curves (loss and accuracy) spread over many rows of the page, and the validation ones.
    expect(pixels.train).toBeGreaterThan(1_000);
    expect(pixels.rowsWithTrain.size).toBeGreaterThan(150);
    if (validated) expect(pixels.validation).toBeGreaterThan(300);
    // The page's background is mostly light: the report drew, not an error page.
    let light = 0;
    for (let y = 0; y < image.height; y += 8) {
      for (let x = 0; x < image.width; x += 8) if (image.rgb(x, y).every((c) => c > 230)) light += 1;
    }
    expect(light / ((image.width / 8) * (image.height / 8))).toBeGreaterThan(0.6);

    mkdirSync(join(PROJECT_ROOT, 'docs/images'), { recursive: true });
    writeFileSync(SCREENSHOT, bytes);
  });
});
