import type { NamedPolicy } from '../../template.js';

/**
 * The AWS managed policies the stack attaches, as AWS publishes them. Local mode evaluates them like
 * any other policy; a managed policy it does not know is an error at start-up, never silently ignored.
 *
 * Sources (read 2026-11-29):
 * - AWSLambdaBasicExecutionRole: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
 * - AdministratorAccess: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html
 */
export const AWS_MANAGED_POLICIES: Record<string, NamedPolicy> = {
  'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole': {
    name: 'AWSLambdaBasicExecutionRole',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: '*',
        },
      ],
    },
  },
  'arn:aws:iam::aws:policy/AdministratorAccess': {
    name: 'AdministratorAccess',
    document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
  },
};
