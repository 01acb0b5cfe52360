import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/**
 * Queues an event for a function as an asynchronous invocation (`InvocationType: 'Event'`): Lambda answers
 * 202 once the event is stored and runs the function in the background, retrying a failed run as the
 * function's EventInvokeConfig says, then sending it to its on-failure destination. An async event may be
 * up to 1 MB.
 */
export class LambdaAsyncInvoker {
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
  ) {}

  /** Resolves once the event is queued (not run); rejects when it could not be queued. */
  async invoke(event: unknown): Promise<void> {
    const response = await this.client.send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: 'Event',
        Payload: this.encoder.encode(JSON.stringify(event)),
      }),
    );
    if (response.StatusCode !== 202) {
      throw new Error(
        `Lambda answered ${response.StatusCode} to an Event invocation of ${this.functionName}`,
      );
    }
  }
}
