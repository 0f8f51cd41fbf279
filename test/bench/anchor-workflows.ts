// The anchor of the drain figure: a workflow with one regular activity and nothing else.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function oneActivity(): Promise<void> {
  await noop();
}
