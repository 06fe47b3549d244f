import { App, Stack, Validations } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { buildApp } from '../../lib/app.js';
import { checkWithNagPacks, nagPacks } from '../../lib/nag.js';
import { TunedropPipeline } from '../../lib/pipeline.js';

const noBundling = { context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false };

/** Every unacknowledged finding of the AwsSolutions and Serverless packs, errors and warnings alike. */
function findings(app: App): string[] {
  return nagPacks().flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
  );
}

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  it('finds nothing unacknowledged in the app as deployed', () => {
    const { app } = buildApp({ appProps: noBundling });
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing unacknowledged with a customer managed key and without server access logs', () => {
    const app = new App(noBundling);
    const stack = new Stack(app, 'WithKey');
    const encryptionKey = new Key(stack, 'DataKey', { enableKeyRotation: true });
    new TunedropPipeline(stack, 'Pipeline', { encryptionKey, serverAccessLogs: false });
    expect(findings(app)).toEqual([]);
  });

  it('fails synthesis on a new unacknowledged finding, as npm run synth does', () => {
    const { app, stack } = buildApp({ appProps: noBundling });
    checkWithNagPacks(app);
    new Bucket(stack, 'Careless', { enforceSSL: false });
    expect(() => app.synth()).toThrow(/AwsSolutions-S1[\s\S]*Tunedrop\/Careless/);
  });

  it('synthesizes with the checks on when every finding is acknowledged', () => {
    const { app, stack } = buildApp({ appProps: noBundling });
    checkWithNagPacks(app);
    const careless = new Bucket(stack, 'Acknowledged');
    Validations.of(careless).acknowledge(
      { id: 'AwsSolutions-S1', reason: 'test' },
      { id: 'AwsSolutions-S10', reason: 'test' },
    );
    expect(() => app.synth()).not.toThrow();
  });
});
