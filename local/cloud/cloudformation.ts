import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * Local CloudFormation, DescribeStacks only: what the CLI reads to find the deployed stack's outputs
 * (`tunedrop cancel` its StateMachineArn, `tunedrop redrive` its DeadLetterQueueUrl). It answers the
 * awsQuery protocol that @aws-sdk/client-cloudformation speaks: a form-encoded POST
 * (`Action=DescribeStacks&Version=2010-05-15&StackName=...`) and an XML answer whose
 * `DescribeStacksResult` the SDK's XML deserializer unwraps; errors as `<ErrorResponse><Error>` with
 * Type, Code and Message, the SDK naming the exception by Code.
 *
 * Facts used, read 2026-11-29: "if no stack name was specified, then it returns the description for all
 * the stacks created", "If the stack doesn't exist, a ValidationError is returned", StackName is the
 * stack's name or unique stack ID,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html; the
 * message is CloudFormation's "Stack with id X does not exist"; StackName, StackId, CreationTime and
 * StackStatus are required members of a Stack (the SDK's schema, client-cloudformation 3.1169.0).
 */
export interface LocalStack {
  stackName: string;
  outputs: Record<string, { value: string; description?: string }>;
}

export interface LocalCloudFormation {
  /** The endpoint for SDK clients (AWS_ENDPOINT_URL_CLOUDFORMATION). */
  endpoint: string;
  /** The stack's unique ID (its ARN), which DescribeStacks also accepts as StackName. */
  stackId: string;
  close(): Promise<void>;
}

const XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

export async function startLocalCloudFormation(stack: LocalStack): Promise<LocalCloudFormation> {
  const stackId = `arn:aws:cloudformation:us-east-1:000000000000:stack/${stack.stackName}/${randomUUID()}`;
  const createdAt = new Date().toISOString();

  const describe = (): string => {
    const outputs = Object.entries(stack.outputs)
      .map(
        ([key, output]) =>
          `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(output.value)}</OutputValue>${
            output.description === undefined ? '' : `<Description>${xml(output.description)}</Description>`
          }</member>`,
      )
      .join('');
    return (
      `<member><StackName>${xml(stack.stackName)}</StackName><StackId>${xml(stackId)}</StackId>` +
      `<CreationTime>${createdAt}</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>` +
      `<DisableRollback>false</DisableRollback><Outputs>${outputs}</Outputs></member>`
    );
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const requestId = randomUUID();
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const answer = (status: number, body: string) => {
        response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      };
      const fail = (code: string, message: string) =>
        answer(
          400,
          `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code>` +
            `<Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      const action = params.get('Action');
      if (action !== 'DescribeStacks') {
        fail(
          'InvalidAction',
          `local CloudFormation answers only DescribeStacks, not ${action ?? 'this request'}`,
        );
        return;
      }
      const name = params.get('StackName');
      if (name && name !== stack.stackName && name !== stackId) {
        fail('ValidationError', `Stack with id ${name} does not exist`);
        return;
      }
      answer(
        200,
        `<DescribeStacksResponse xmlns="${XMLNS}"><DescribeStacksResult><Stacks>${describe()}</Stacks>` +
          `</DescribeStacksResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>` +
          `</DescribeStacksResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stackId,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
