// Reads a history as `temporal workflow show --output json` prints it, enough to check which
// branch of a workflow it went through: activities (regular and local), timers, cancellation.
import { strict as assert } from 'node:assert';

interface RawEvent {
  eventId: string;
  eventType: string;
  [attributes: string]: unknown;
}

export interface HistoryJson {
  events: RawEvent[];
}

export interface LocalActivityRun {
  eventId: number;
  type: string;
  attempt: number;
  failed: boolean;
}

export interface ActivityRun {
  scheduledEventId: number;
  type: string;
  /** Attempt of the final try, as ActivityTaskStarted records it (retries are not separate events). */
  attempt: number;
  /** The failure of the try before the final one, when there were retries. */
  lastFailure: string | undefined;
  /** Completed, Failed, TimedOut, Canceled, or undefined when still open. */
  outcome: string | undefined;
}

const short = (eventType: string) =>
  eventType
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());

function attributes(event: RawEvent): Record<string, any> {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes'));
  return (key ? event[key] : {}) as Record<string, any>;
}

export class History {
  readonly types: string[];

  constructor(
    readonly name: string,
    readonly json: HistoryJson,
  ) {
    assert.ok(Array.isArray(json.events) && json.events.length > 0, `${name}: no events`);
    this.types = json.events.map((e) => short(e.eventType));
  }

  has(type: string): boolean {
    return this.types.includes(type);
  }

  indexOf(type: string): number {
    return this.types.indexOf(type);
  }

  /** The id of the first event of this type (Infinity when there is none). */
  firstEventId(type: string): number {
    const index = this.indexOf(type);
    return index < 0 ? Infinity : Number(this.json.events[index]!.eventId);
  }

  get closedAs(): string {
    return this.types.at(-1)!;
  }

  /** Regular activities with their retries and outcome. */
  activities(): ActivityRun[] {
    const runs = new Map<number, ActivityRun>();
    for (const event of this.json.events) {
      const type = short(event.eventType);
      const a = attributes(event);
      if (type === 'ActivityTaskScheduled') {
        runs.set(Number(event.eventId), {
          scheduledEventId: Number(event.eventId),
          type: a.activityType.name,
          attempt: 1,
          lastFailure: undefined,
          outcome: undefined,
        });
        continue;
      }
      const run = a.scheduledEventId !== undefined ? runs.get(Number(a.scheduledEventId)) : undefined;
      if (!run) continue;
      if (type === 'ActivityTaskStarted') {
        run.attempt = Number(a.attempt ?? 1);
        run.lastFailure = a.lastFailure ? JSON.stringify(a.lastFailure) : undefined;
      } else if (type.startsWith('ActivityTask') && type !== 'ActivityTaskCancelRequested') {
        run.outcome = type.replace('ActivityTask', '');
      }
    }
    return [...runs.values()];
  }

  activity(type: string): ActivityRun[] {
    return this.activities().filter((a) => a.type === type);
  }

  /** Local activities, from their markers (each marker is the final attempt's outcome). */
  localActivities(): LocalActivityRun[] {
    const runs: LocalActivityRun[] = [];
    for (const event of this.json.events) {
      if (short(event.eventType) !== 'MarkerRecorded') continue;
      const a = attributes(event);
      if (a.markerName !== 'core_local_activity') continue;
      const payload = a.details?.data?.payloads?.[0];
      const data = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as {
        activity_type: string;
        attempt: number;
      };
      runs.push({
        eventId: Number(event.eventId),
        type: data.activity_type,
        attempt: data.attempt,
        failed: a.failure !== undefined,
      });
    }
    return runs;
  }

  localActivity(type: string): LocalActivityRun[] {
    return this.localActivities().filter((a) => a.type === type);
  }

  /** A readable one-line summary, for failure messages and the recorder's report. */
  summary(): string {
    const acts = this.activities().map(
      (a) => `${a.type}${a.attempt > 1 ? `#${a.attempt}` : ''}:${a.outcome ?? 'open'}`,
    );
    const locals = this.localActivities().map(
      (l) => `${l.type}${l.attempt > 1 ? `#${l.attempt}` : ''}${l.failed ? ':failed' : ''}`,
    );
    const timers = this.types.filter((t) => t === 'TimerStarted').length;
    return `activities [${acts.join(', ')}] local [${locals.join(', ')}] timers ${timers}, ${this.closedAs}`;
  }
}

/** Fails loudly, naming the history and what it went through. */
export function expectBranch(history: History, condition: boolean, what: string): void {
  if (!condition)
    throw new Error(`history ${history.name} does not prove its branch: ${what}\n  it has: ${history.summary()}`);
}
