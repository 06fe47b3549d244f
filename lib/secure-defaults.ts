import { Duration, RemovalPolicy } from 'aws-cdk-lib';
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

export const LOG_RETENTION_DAYS = 30;
export const DEFAULT_FUNCTION_TIMEOUT = Duration.minutes(1);
