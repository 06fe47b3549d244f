import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../local/cloud/index.js';
import { resultRows } from '../../functions/core/results.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { chromiumOrSkip, screenshot } from '../support/chromium.js';
import type { Image } from '../support/png.js';

/**
 * The run report as a person sees it: a real local run's report.html (written by Collect from the
 * emulator's results.csv) rendered by Debian's headless Chromium, and the screenshot read back to check
 * that the curves are drawn. The screenshot is the README's (docs/images/run-report.png).
 *
 * Chromium is Debian's `chromium` package (`apt-get install chromium`). Without it the test is skipped
 * on a developer's machine and fails in CI (CI set), saying so.
 */
const SCREENSHOT = join(PROJECT_ROOT, 'docs/images/run-report.png');
const WIDTH = 1200;
const HEIGHT = 1600;
const version = await chromiumOrSkip('the run report');
const describeWithChromium = version ? describe : describe.skip;

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
    const { bytes, image } = await screenshot(`file://${page}`, shot, { width: WIDTH, height: HEIGHT });
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
