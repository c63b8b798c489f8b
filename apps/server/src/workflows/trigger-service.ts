import { createHash, randomBytes } from 'node:crypto';
import type { Trigger, TriggerCreateRequest } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { hashToken } from '../auth/api-key-token.js';
import { requireScopes } from '../auth/authenticate.js';
import { resolveActor, type StoredActor, storeActor, triggerActor } from '../auth/stored-actor.js';
import { open, type RootKey, seal } from '../credentials/envelope.js';
import { inPage, keysetPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import type { Clock } from '../queue/job-queue.js';
import { dueFires, nextFireAfter, parseSchedule } from './cron-schedule.js';
import { refuseDeepJson } from './json-nesting.js';
import type { WorkflowEngine } from './run-engine.js';
import { verifyWebhook } from './webhook-signature.js';
import type { WorkflowService } from './workflow-service.js';

type TriggerRow = Database['workflow_triggers'];

/** Refused deliveries logged per trigger and minute; more are refused all the same, unlogged. */
export const maxLoggedRefusals = 60;
const deliveryRetentionMs = 7 * 24 * 3600_000;

export function triggerSecretAad(orgId: string, triggerId: string): string {
  return `runtools:workflow-trigger:${orgId}:${triggerId}`;
}

/** Headers a webhook's runs see: what describes the delivery, never credentials. */
const keptHeaders = /^(content-type|user-agent|x-(?!runtools-signature)[a-z0-9-]+)$/i;
const droppedHeaders = /(authorization|cookie|token|secret|signature|api-key)/i;

export interface TriggerOptions {
  clock: Clock;
  publicUrl: () => string;
  /** How often due cron triggers are looked for. */
  tickMs: number;
}

/**
 * Cron and webhook triggers. A cron fire is claimed by moving the trigger's next fire time with a conditional
 * update and runs with an idempotency key of trigger and fire time, so two control planes (or a restart in
 * between) start it once. A webhook delivery is verified against the raw body (HMAC-SHA256, a timestamp
 * window) and refused when its delivery id was seen.
 */
export class TriggerService {
  private ticker: NodeJS.Timeout | undefined;
  /** A timer for the soonest fire, so a fire is not late by up to a tick. */
  private soonest: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  /** Refused deliveries logged per trigger in the current minute: whoever knows a URL cannot fill the logs. */
  private refusals = { minute: 0, counts: new Map<string, number>() };
  private lastPrune = 0;
  private stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly workflows: WorkflowService,
    private readonly engine: WorkflowEngine,
    private readonly root: RootKey,
    private readonly logger: Logger,
    private readonly options: TriggerOptions,
  ) {}

  start(): void {
    this.ticker = setInterval(() => {
      void this.tick();
    }, this.options.tickMs);
    this.ticker.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.soonest);
  }

  /** Arms a timer for the soonest cron fire (the tick covers fires other control planes add). */
  private async armSoonest(): Promise<void> {
    const next = await this.db
      .selectFrom('workflow_triggers')
      .select(({ fn }) => fn.min('next_fire_at').as('at'))
      .where('kind', '=', 'cron')
      .where('enabled', '=', 1)
      .executeTakeFirst();
    clearTimeout(this.soonest);
    if (!next?.at || this.stopped) return;
    const delay = Date.parse(next.at as string) - this.options.clock.now();
    if (delay >= this.options.tickMs) return;
    this.soonest = setTimeout(() => void this.tick(), Math.max(0, delay));
    this.soonest.unref();
  }

  private workflowRow(orgId: string, id: string) {
    return this.db
      .selectFrom('workflows')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  private fromRow(row: TriggerRow, slug: string, secret: string | null = null, token: string | null = null): Trigger {
    return {
      id: row.id,
      workflow: slug,
      kind: row.kind as Trigger['kind'],
      schedule: row.schedule,
      timezone: row.timezone,
      missedFires: (row.missed_fires as Trigger['missedFires']) ?? null,
      version: row.version === 'latest' ? 'latest' : Number(row.version),
      input: JSON.parse(row.input) as Record<string, unknown>,
      url: token
        ? `${this.options.publicUrl()}/v1/hooks/${token}`
        : row.kind === 'webhook'
          ? '(shown once, when created)'
          : null,
      secret,
      nextFireAt: row.next_fire_at,
      lastFiredAt: row.last_fired_at,
      enabled: Number(row.enabled) === 1,
      createdBy: row.created_by,
      createdAt: row.created_at,
    };
  }

  async create(auth: Actor, slug: string, body: z.output<typeof TriggerCreateRequest>): Promise<Trigger> {
    // Its runs act with the creator's rights: creating one is starting runs later.
    requireScopes(auth, ['workflows:execute']);
    refuseDeepJson(body.input, 'input');
    const workflow = await this.workflows.get(auth, slug);
    if (body.version !== 'latest') await this.workflows.version(auth, slug, body.version);
    const id = newId('trigger');
    const now = this.options.clock.now();
    let token: string | null = null;
    let secret: string | null = null;
    let nextFireAt: string | null = null;
    if (body.kind === 'cron') {
      try {
        parseSchedule(body.schedule, body.timezone);
      } catch (error) {
        throw new DomainError('trigger_invalid', (error as Error).message, { field: 'schedule' });
      }
      const next = nextFireAfter(body.schedule, body.timezone, now);
      if (next === null) throw new DomainError('trigger_invalid', `the schedule ${body.schedule} never fires again`);
      nextFireAt = new Date(next).toISOString();
    } else {
      token = `wh_${randomBytes(24).toString('base64url')}`;
      secret = `whsec_${randomBytes(32).toString('base64url')}`;
    }
    const row: TriggerRow = {
      id,
      org_id: auth.orgId,
      workflow_id: workflow.id,
      kind: body.kind,
      schedule: body.kind === 'cron' ? body.schedule : null,
      timezone: body.kind === 'cron' ? body.timezone : null,
      missed_fires: body.kind === 'cron' ? body.missedFires : null,
      version: String(body.version),
      input: JSON.stringify(body.input),
      token_hash: token ? hashToken(token) : null,
      secret: secret ? seal(this.root, triggerSecretAad(auth.orgId, id), secret) : null,
      root_key_id: secret ? this.root.id : null,
      next_fire_at: nextFireAt,
      last_fired_at: null,
      enabled: 1,
      actor: JSON.stringify(storeActor(auth)),
      created_by: auth.member?.id ?? null,
      created_at: new Date(now).toISOString(),
    };
    await this.db.insertInto('workflow_triggers').values(row).execute();
    if (body.kind === 'cron') void this.tick();
    await audit(this.db, { orgId: auth.orgId, event: 'workflow_trigger.created', actor: auth.principal, targetId: id });
    return this.fromRow(row, slug, secret, token);
  }

  async list(auth: Actor, slug: string, page: PageRequest): Promise<Page<Trigger>> {
    const workflow = await this.workflows.get(auth, slug);
    const select = this.db
      .selectFrom('workflow_triggers')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('workflow_id', '=', workflow.id);
    const rows = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'asc' },
        { column: 'id', direction: 'asc' },
      ],
      (row: TriggerRow) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return { data: rows.data.map((row) => this.fromRow(row, slug)), nextCursor: rows.nextCursor };
  }

  async delete(auth: Actor, slug: string, triggerId: string): Promise<{ id: string; deleted: true }> {
    const workflow = await this.workflows.get(auth, slug);
    const removed = await this.db
      .deleteFrom('workflow_triggers')
      .where('id', '=', triggerId)
      .where('org_id', '=', auth.orgId)
      .where('workflow_id', '=', workflow.id)
      .executeTakeFirst();
    if (Number(removed.numDeletedRows) !== 1)
      throw new DomainError('trigger_not_found', `${slug} has no trigger ${triggerId}`, { triggerId });
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'workflow_trigger.deleted',
      actor: auth.principal,
      targetId: triggerId,
    });
    return { id: triggerId, deleted: true };
  }

  /** Starts a run for a trigger, as its creator now; the version is resolved at fire time. */
  private async fire(row: TriggerRow, data: unknown, idempotencyKey: string): Promise<string> {
    const workflow = await this.workflowRow(row.org_id, row.workflow_id);
    if (!workflow) throw new DomainError('workflow_not_found', "the trigger's workflow is gone");
    const creator = JSON.parse(row.actor) as StoredActor;
    // A trigger made with a key lives no longer than the key, as nothing else a key makes does: once it is
    // revoked or expired (or its holder has left), the trigger starts nothing.
    if (creator.principal.kind === 'key' || creator.principal.kind === 'session')
      await resolveActor(this.db, row.org_id, creator);
    const stored = triggerActor(row.id, creator);
    const actor = await resolveActor(this.db, row.org_id, stored);
    requireScopes(actor, ['workflows:execute']);
    const version = row.version === 'latest' ? 'latest' : Number(row.version);
    const pinned = await this.workflows.pinned(actor, workflow, version);
    // A version someone else published runs with no more than its publisher's rights: publishing a graph must
    // not borrow the rights of whoever made the trigger.
    const acting: StoredActor =
      pinned.publisher && pinned.publisher.memberId !== creator.memberId
        ? { ...stored, limitedBy: pinned.publisher }
        : stored;
    if (acting !== stored) requireScopes(await resolveActor(this.db, row.org_id, acting), ['workflows:execute']);
    const input = JSON.parse(row.input) as Record<string, unknown>;
    this.workflows.checkInput(pinned.inputSchema, input);
    const run = await this.engine.createRun({
      orgId: row.org_id,
      workflowId: workflow.id,
      slug: workflow.slug,
      version: pinned.version,
      graph: pinned.graph,
      input,
      trigger: { kind: row.kind as 'cron' | 'webhook', triggerId: row.id, data },
      actor: acting,
      idempotencyKey,
    });
    return run.runId;
  }

  /** Fires the cron triggers that are due (on the injected clock). */
  tick(): Promise<void> {
    this.ticking = this.ticking.then(() =>
      this.fireDue()
        .then(() => this.armSoonest())
        .catch((error: unknown) => this.logger.error({ err: error }, 'cron tick failed')),
    );
    return this.ticking;
  }

  /** Whether a refused delivery is logged: at most `maxLoggedRefusals` a minute per trigger (all are refused). */
  private mayLogRefusal(triggerId: string): boolean {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.refusals.minute) this.refusals = { minute, counts: new Map() };
    const count = (this.refusals.counts.get(triggerId) ?? 0) + 1;
    this.refusals.counts.set(triggerId, count);
    return count <= maxLoggedRefusals;
  }

  /**
   * Deliveries are kept a week: a replay of an older one is refused for its stale signature anyway (300 s), so
   * the delivery log need not grow for ever.
   */
  private async prune(now: number): Promise<void> {
    if (now - this.lastPrune < 3600_000) return;
    this.lastPrune = now;
    await this.db
      .deleteFrom('workflow_deliveries')
      .where('received_at', '<', new Date(now - deliveryRetentionMs).toISOString())
      .execute();
  }

  private async fireDue(): Promise<void> {
    const now = this.options.clock.now();
    await this.prune(now);
    const due = await this.db
      .selectFrom('workflow_triggers')
      .selectAll()
      .where('kind', '=', 'cron')
      .where('enabled', '=', 1)
      .where('next_fire_at', '<=', new Date(now).toISOString())
      .limit(200)
      .execute();
    for (const row of due) {
      const scheduled = Date.parse(row.next_fire_at as string);
      const plan = dueFires(
        row.schedule as string,
        row.timezone ?? 'UTC',
        scheduled,
        now,
        (row.missed_fires as 'skip' | 'run_once') ?? 'skip',
      );
      if (plan.fireAt !== null) {
        try {
          await this.fire(
            row,
            {
              kind: 'cron',
              scheduledAt: new Date(plan.fireAt).toISOString(),
              firedAt: new Date(now).toISOString(),
              missed: plan.missed,
            },
            `cron:${row.id}:${plan.fireAt}`,
          );
        } catch (error) {
          this.logger.warn({ err: error, triggerId: row.id }, 'a cron trigger could not start its run');
        }
      }
      // Moving next_fire_at on is the claim: a second control plane that read the same row updates nothing.
      await this.db
        .updateTable('workflow_triggers')
        .set({
          next_fire_at: plan.next === null ? null : new Date(plan.next).toISOString(),
          ...(plan.fireAt !== null ? { last_fired_at: new Date(plan.fireAt).toISOString() } : {}),
          ...(plan.next === null ? { enabled: 0 } : {}),
        })
        .where('id', '=', row.id)
        .where('next_fire_at', '=', row.next_fire_at)
        .execute();
    }
  }

  /**
   * A call to a hook URL: a webhook trigger's signed delivery, or the resume of a webhook-wait node. Refusals
   * are logged (the delivery log and the audit log) and answered 401, a replay 409.
   */
  async deliver(
    token: string,
    body: Buffer,
    header: (name: string) => string | undefined,
  ): Promise<{ accepted: true; runId: string | null; deliveryId: string }> {
    const trigger = await this.db
      .selectFrom('workflow_triggers')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .where('kind', '=', 'webhook')
      .executeTakeFirst();
    const payload = parseBody(body, header('content-type'));
    // Before anything is recorded or resumed: a sender can send it again nested less.
    refuseDeepJson(payload);
    if (!trigger) {
      const resumed = await this.engine.resumeWait(token, {
        body: payload,
        headers: keep(header),
        receivedAt: new Date().toISOString(),
      });
      if (!resumed) throw new DomainError('trigger_not_found', 'no trigger or waiting node has this hook URL');
      return { accepted: true, runId: resumed.runId, deliveryId: newId('delivery') };
    }
    const deliveryId = newId('delivery');
    const signatureHeader = header('x-runtools-signature');
    const secret = open(this.root, triggerSecretAad(trigger.org_id, trigger.id), trigger.secret as string);
    const verdict = verifyWebhook({
      secret,
      body,
      header: signatureHeader,
      nowMs: this.options.clock.now(),
    });
    const deliveryHeader = header('x-runtools-delivery');
    const deliveryKey =
      deliveryHeader && deliveryHeader.length <= 200
        ? `id:${deliveryHeader}`
        : `signed:${createHash('sha256')
            .update(`${verdict.ok ? verdict.timestamp : ''}.`)
            .update(body)
            .digest('hex')}`;
    if (!verdict.ok && this.mayLogRefusal(trigger.id)) {
      await this.db
        .insertInto('workflow_deliveries')
        .values({
          id: deliveryId,
          trigger_id: trigger.id,
          org_id: trigger.org_id,
          delivery_key: null,
          status: 'refused',
          reason: verdict.reason,
          run_id: null,
          remote: null,
          received_at: new Date().toISOString(),
        })
        .execute();
      await audit(this.db, {
        orgId: trigger.org_id,
        event: 'workflow_hook.refused',
        actor: { kind: 'trigger', id: trigger.id },
        targetId: trigger.id,
        details: { reason: verdict.reason, deliveryId },
      });
    }
    if (!verdict.ok) {
      throw new DomainError(
        'webhook_signature_invalid',
        `the delivery is not signed right (${verdict.reason}): send X-RunTools-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with the trigger's secret, within 5 minutes`,
        { reason: verdict.reason },
      );
    }
    // The delivery id is not signed: the signed content itself (timestamp and body) is recorded too, so a
    // captured delivery sent again under a new id is a replay all the same.
    const contentKey = `signed:${createHash('sha256').update(`${verdict.timestamp}.`).update(body).digest('hex')}`;
    const contentRowId = newId('delivery');
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const [id, key] of [
          [contentRowId, contentKey],
          ...(deliveryKey === contentKey ? [] : [[deliveryId, deliveryKey]]),
        ] as [string, string][])
          await trx
            .insertInto('workflow_deliveries')
            .values({
              id,
              trigger_id: trigger.id,
              org_id: trigger.org_id,
              delivery_key: key,
              status: id === deliveryId ? 'accepted' : 'signed',
              reason: null,
              run_id: null,
              remote: null,
              received_at: new Date().toISOString(),
            })
            .execute();
      });
    } catch {
      throw new DomainError('webhook_replayed', 'this delivery was received before', { deliveryKey });
    }
    let runId: string;
    try {
      runId = await this.fire(
        trigger,
        { kind: 'webhook', deliveryId: deliveryHeader ?? deliveryId, body: payload, headers: keep(header) },
        `webhook:${trigger.id}:${deliveryKey}`,
      );
    } catch (error) {
      // No run started: the delivery is logged as refused, and the sender may send it again (a retry of the
      // same delivery id, once the workflow is published or the trigger fixed) without it counting as a replay.
      await this.db
        .updateTable('workflow_deliveries')
        .set({
          status: 'refused',
          reason: error instanceof DomainError ? error.code : 'run_not_started',
          delivery_key: null,
        })
        .where('id', 'in', [deliveryId, contentRowId])
        .execute();
      throw error;
    }
    await this.db.updateTable('workflow_deliveries').set({ run_id: runId }).where('id', '=', deliveryId).execute();
    await this.db
      .updateTable('workflow_triggers')
      .set({ last_fired_at: new Date().toISOString() })
      .where('id', '=', trigger.id)
      .execute();
    return { accepted: true, runId, deliveryId };
  }
}

function parseBody(body: Buffer, contentType: string | undefined): unknown {
  const text = body.toString('utf8');
  if (/json/i.test(contentType ?? '') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

const commonHeaders = ['content-type', 'user-agent', 'x-github-event', 'x-github-delivery', 'x-runtools-delivery'];

function keep(header: (name: string) => string | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of commonHeaders) {
    const value = header(name);
    if (value !== undefined && keptHeaders.test(name) && !droppedHeaders.test(name)) kept[name] = value.slice(0, 1000);
  }
  return kept;
}
