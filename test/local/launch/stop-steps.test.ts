import { StopSteps } from '../../../local/launch/stop-steps';

describe('StopSteps', () => {
  it('runs the steps last pushed first, each once, going on past a step that fails', async () => {
    // Prepare
    const steps = new StopSteps();
    const ran: string[] = [];
    const logged: string[] = [];
    steps.push(async () => void ran.push('dynamodb'));
    steps.push(() => Promise.reject(new Error('worker would not stop')));
    steps.push(async () => void ran.push('servers'));

    // Act
    await steps.run((message) => logged.push(message));
    await steps.run((message) => logged.push(message));

    // Assess
    expect(ran).toEqual(['servers', 'dynamodb']);
    expect(logged).toEqual(['stop: worker would not stop']);
  });

  it('also runs a step pushed while it is stopping (a start still under way)', async () => {
    // Prepare
    const steps = new StopSteps();
    const ran: string[] = [];
    steps.push(async () => {
      ran.push('first');
      steps.push(async () => void ran.push('late'));
    });

    // Act
    await steps.run(() => undefined);

    // Assess
    expect(ran).toEqual(['first', 'late']);
  });
});
