import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BillingMode, TableEncryption, type TableProps } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, BucketEncryption, ObjectOwnership, type BucketProps } from 'aws-cdk-lib/aws-s3';

/**
 * Secure defaults, in one place. Every bucket and table tunedrop creates starts from these; a prop
 * may add to them, never weaken them.
 */
export const SECURE_BUCKET_PROPS = {
  blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
  encryption: BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  versioned: true,
  objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
  // The user's data outlives the stack.
  removalPolicy: RemovalPolicy.RETAIN,
} as const satisfies BucketProps;

export const SECURE_TABLE_PROPS = {
  billingMode: BillingMode.PAY_PER_REQUEST,
  encryption: TableEncryption.AWS_MANAGED,
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  deletionProtection: true,
  removalPolicy: RemovalPolicy.RETAIN,
} as const satisfies Partial<TableProps>;

/** How long every log group tunedrop creates keeps its events (CDK's bucket-notification handler's too). */
export const LOG_RETENTION = RetentionDays.ONE_MONTH;

/** Data kept tidy: the defaults of the pipeline's lifecycle props (docs/configuration.md). */
export const DATA_LIFECYCLE_DEFAULTS = {
  /** A replaced or deleted object's older versions are kept this long. */
  noncurrentVersionExpiration: Duration.days(30),
  /** The copies of training data under runs/ (train.jsonl, validation.jsonl) are kept this long. */
  trainingCopyExpiration: Duration.days(30),
  /** Parts of an upload that never completed are removed after this. */
  abortIncompleteMultipartUploadAfter: Duration.days(7),
  /** S3 server access logs are kept this long. */
  accessLogsExpiration: Duration.days(365),
} as const;

/** The tag Prepare puts on training copies, which the lifecycle rule expires (functions/core/run.ts). */
export { TRAINING_COPY_TAG } from '../functions/core/run.js';
export const DEFAULT_FUNCTION_TIMEOUT = Duration.minutes(1);
