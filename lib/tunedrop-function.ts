import { Architecture, Runtime, Tracing, type CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acknowledge, nagArn } from './nag.js';
import { DEFAULT_FUNCTION_TIMEOUT, LOG_RETENTION } from './secure-defaults.js';

const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Template metadata key naming a function's source entry; local mode maps functions to handlers by it. */
export const ENTRY_METADATA_KEY = 'tunedrop:entry';

export interface TunedropFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'handler' | 'runtime'> {
  /** The handler's folder under functions/, e.g. "prepare". */
  step: string;
  /**
   * Files (relative to the project root) copied next to the bundle, for dependencies that read them at
   * run time, such as tiktoken's WebAssembly.
   * @default none
   */
  bundledFiles?: string[];
}

/**
 * A tunedrop Lambda: Node 22 on arm64, X-Ray tracing, logs kept 30 days, bundled by esbuild as ESM
 * (no Docker). All function defaults live here.
 *
 * @default timeout 1 minute, memory 1024 MB
 */
export class TunedropFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TunedropFunctionProps) {
    const { step, bundling, environment, bundledFiles = [], ...rest } = props;
    const entry = `functions/${step}/handler.ts`;
    // The function's own role, writing only to its own log group (which exists before it runs, so
    // logs:CreateLogGroup is not needed), instead of the AWSLambdaBasicExecutionRole CDK would attach
    // (logs:CreateLogGroup, CreateLogStream and PutLogEvents on every log group).
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: LOG_RETENTION });
    const role = new Role(scope, `${id}ServiceRole`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    super(scope, id, {
      role,
      entry: join(PROJECT_ROOT, entry),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      memorySize: 1024,
      timeout: DEFAULT_FUNCTION_TIMEOUT,
      logGroup,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        // Error and class names stay readable in logs and stack traces.
        keepNames: true,
        sourceMap: true,
        // The Lambda runtime provides AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        // ESM bundles still meet CommonJS dependencies that use require() and __dirname.
        banner: [
          "import { createRequire } from 'module';",
          "import { dirname as __tunedropDirname } from 'path';",
          "import { fileURLToPath as __tunedropFileUrl } from 'url';",
          'const require = createRequire(import.meta.url);',
          'const __dirname = __tunedropDirname(__tunedropFileUrl(import.meta.url));',
        ].join(' '),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) =>
            bundledFiles.map((file) => `cp "${join(inputDir, file)}" "${outputDir}/"`),
        },
        ...bundling,
      },
      ...rest,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'tunedrop',
        ...environment,
      },
    });
    (this.node.defaultChild as CfnFunction).addMetadata(ENTRY_METADATA_KEY, entry);

    acknowledge(
      this,
      'Node.js 22 on purpose: the code is built for and tested on Node 22 (the node@22 devDependency runs ' +
        'every npm script and local mode); moving to a newer runtime is an upgrade of its own, not a setting.',
      'AwsSolutions-L1',
      'Serverless-LambdaLatestVersion',
    );
    acknowledge(
      role,
      "X-Ray tracing (CDK's Tracing.ACTIVE grant): xray:PutTraceSegments and xray:PutTelemetryRecords have no " +
        'resource type, so IAM takes them only on Resource "*" (Service Authorization Reference for AWS X-Ray, ' +
        '"If there is no value for this column, you must specify all resources", read 2026-11-29).',
      'AwsSolutions-IAM5[Resource::*]',
    );
    acknowledge(
      role,
      'Its own log group\'s streams: a log group ARN ends in ":*" (its log streams); the streams are named by ' +
        'Lambda at run time.',
      `AwsSolutions-IAM5[Resource::${nagArn(logGroup)}]`,
    );
  }
}
