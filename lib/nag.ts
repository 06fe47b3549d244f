import {
  Stack,
  Validations,
  type CfnElement,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * The cdk-nag packs tunedrop is held to. Every finding is either fixed or acknowledged next to the
 * construct it concerns (`Validations.of(construct).acknowledge`), with its reason; docs/security.md
 * lists them.
 */
export function nagPacks(scope?: IConstruct): NagPack[] {
  return [new AwsSolutionsChecks(scope), new ServerlessChecks(scope)];
}

/**
 * A pack whose warnings count as errors: synthesis fails on any unacknowledged finding, not only on
 * the rules a pack rates as errors (CDK fails synthesis on a report with errors only).
 */
class EveryFindingFails implements IPolicyValidationPlugin {
  readonly name: string;
  readonly version?: string;

  constructor(private readonly pack: NagPack) {
    this.name = pack.name;
    if (pack.version !== undefined) this.version = pack.version;
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = this.pack.validate(context);
    const violations = report.violations.map((v) => ({ ...v, severity: 'error' }));
    return { ...report, violations, success: violations.length === 0 };
  }
}

/** Makes `app.synth()` (and so `cdk synth` and `cdk deploy`) fail on an unacknowledged cdk-nag finding. */
export function checkWithNagPacks(app: IConstruct): void {
  Validations.of(app).addPlugins(...nagPacks(app).map((pack) => new EveryFindingFails(pack)));
}

/** How cdk-nag names a resource's ARN in a finding id: `<LogicalId.Arn>`. */
export function nagArn(construct: IConstruct): string {
  const cfn = construct.node.defaultChild as CfnElement;
  return `<${Stack.of(construct).getLogicalId(cfn)}.Arn>`;
}

/** Acknowledges each cdk-nag finding id on `construct` (and everything under it), all with one reason. */
export function acknowledge(construct: IConstruct, reason: string, ...ids: string[]): void {
  Validations.of(construct).acknowledge(...ids.map((id) => ({ id, reason })));
}
