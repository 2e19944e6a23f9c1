// Rule versions: drafts are edited freely; activating one is a single transaction that archives the
// active version; rolling back re-activates the version that was active before. Only drafts change.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { queryRows } from '../../platform/db/rows.js';
import { defaultRuleDocument, validateRuleDocument, type RuleDocument } from './rules.js';
import { routingRuleVersions } from './routing.schema.js';

export type RuleVersionRow = typeof routingRuleVersions.$inferSelect;

async function knownGroups(db: Db): Promise<Set<string>> {
  return new Set((await queryRows<{ code: string }>(db, sql`select code from facility_groups`)).map((r) => r.code));
}

/** Checks a rule document against this shop's facility groups, saving nothing. */
export async function checkRuleDocument(db: Db, document: unknown) {
  return validateRuleDocument(document, { groups: await knownGroups(db) });
}

async function checked(db: Db, document: unknown): Promise<RuleDocument> {
  const result = await checkRuleDocument(db, document);
  if (!result.ok) {
    const first = result.problems[0]!;
    throw invalid(
      'routing.invalid_rules',
      `The rule document has ${result.problems.length} problem(s); first: ${first.path}: ${first.message}.`,
      { problems: result.problems },
    );
  }
  return result.document;
}

/** The active rules; a shop without any gets the default rule set as its first active version. */
export async function activeRules(db: Db): Promise<{ versionId: number | null; document: RuleDocument }> {
  const [active] = await db.select().from(routingRuleVersions).where(eq(routingRuleVersions.status, 'active'));
  if (active) return { versionId: active.id, document: active.document };
  const [created] = await db
    .insert(routingRuleVersions)
    .values({
      name: 'Default rules',
      status: 'active',
      document: defaultRuleDocument(),
      createdBy: 'switchyard',
      activatedAt: new Date(),
      note: 'Created on first use: nearest facility for the whole order, else split, else park.',
    })
    .onConflictDoNothing()
    .returning();
  if (created) return { versionId: created.id, document: created.document };
  return activeRules(db); // another worker created it first
}

export async function listRuleVersions(db: Db): Promise<RuleVersionRow[]> {
  await activeRules(db);
  return db.select().from(routingRuleVersions).orderBy(desc(routingRuleVersions.id));
}

export async function getRuleVersion(db: Db, id: number): Promise<RuleVersionRow> {
  const [row] = await db.select().from(routingRuleVersions).where(eq(routingRuleVersions.id, id));
  if (!row) throw notFound('routing.unknown_version', `No rule version ${id}.`, { id });
  return row;
}

/** A new draft: the given document, or a copy of the active rules. */
export async function createDraft(
  db: Db,
  input: { name: string; document?: unknown; note?: string; by: string },
  now: Date,
): Promise<RuleVersionRow> {
  const active = await activeRules(db);
  const document = input.document === undefined ? active.document : await checked(db, input.document);
  const [row] = await db
    .insert(routingRuleVersions)
    .values({
      name: input.name,
      status: 'draft',
      document,
      note: input.note ?? null,
      basedOnId: active.versionId,
      createdBy: input.by,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return row!;
}

export async function updateDraft(
  db: Db,
  id: number,
  input: { name?: string; document?: unknown; note?: string },
  now: Date,
): Promise<RuleVersionRow> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(routingRuleVersions).where(eq(routingRuleVersions.id, id)).for('update');
    if (!row) throw notFound('routing.unknown_version', `No rule version ${id}.`, { id });
    if (row.status !== 'draft')
      throw conflict(
        'routing.not_a_draft',
        `Version ${id} is ${row.status}; only drafts change. Make a draft from it instead.`,
        { id, status: row.status },
      );
    const document = input.document === undefined ? row.document : await checked(tx, input.document);
    const [updated] = await tx
      .update(routingRuleVersions)
      .set({
        ...(input.name ? { name: input.name } : {}),
        ...(input.note !== undefined ? { note: input.note } : {}),
        document,
        updatedAt: now,
      })
      .where(eq(routingRuleVersions.id, id))
      .returning();
    return updated!;
  });
}

export async function deleteDraft(db: Db, id: number): Promise<void> {
  const deleted = await db
    .delete(routingRuleVersions)
    .where(and(eq(routingRuleVersions.id, id), eq(routingRuleVersions.status, 'draft')))
    .returning({ id: routingRuleVersions.id });
  if (deleted.length === 0) {
    const row = await getRuleVersion(db, id);
    throw conflict('routing.not_a_draft', `Version ${id} is ${row.status}; only drafts can be deleted.`, {
      id,
      status: row.status,
    });
  }
}

/** Makes a draft (or an archived version: a rollback) the active rules, archiving the current ones. */
export async function activateVersion(db: Db, id: number, now: Date): Promise<RuleVersionRow> {
  await activeRules(db);
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(routingRuleVersions).where(eq(routingRuleVersions.id, id)).for('update');
    if (!row) throw notFound('routing.unknown_version', `No rule version ${id}.`, { id });
    if (row.status === 'active') return row;
    // Facility groups may have been removed since the version was written.
    await checked(tx, row.document);
    await tx
      .update(routingRuleVersions)
      .set({ status: 'archived', archivedAt: now, updatedAt: now })
      .where(eq(routingRuleVersions.status, 'active'));
    const [activated] = await tx
      .update(routingRuleVersions)
      .set({ status: 'active', activatedAt: now, archivedAt: null, updatedAt: now })
      .where(eq(routingRuleVersions.id, id))
      .returning();
    return activated!;
  });
}

/** Re-activates the version that was active before the current one. */
export async function rollbackRules(db: Db, now: Date): Promise<RuleVersionRow> {
  const [previous] = await db
    .select()
    .from(routingRuleVersions)
    .where(eq(routingRuleVersions.status, 'archived'))
    .orderBy(desc(routingRuleVersions.archivedAt), desc(routingRuleVersions.id))
    .limit(1);
  if (!previous) throw conflict('routing.nothing_to_roll_back', 'No version was active before the current one.');
  return activateVersion(db, previous.id, now);
}
