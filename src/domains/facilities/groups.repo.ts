// Facility groups (the online channel's facilities, routing's groups): the facilities room writes
// them; the inventory room sets the online channel through these.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';

export type ChannelGroup = {
  id: number;
  code: string;
  channel_threshold: number;
};

/** The online channel's group, locked for this transaction; undefined when there is none yet. */
export async function lockOnlineChannelGroup(tx: Db): Promise<ChannelGroup | undefined> {
  const [group] = await queryRows<ChannelGroup>(
    tx,
    sql`select id, code, channel_threshold from facility_groups where purpose = 'online_channel' order by id limit 1 for update`,
  );
  return group;
}

/** Creates the online channel's group; with `everyPhysicalFacility`, every physical facility is in it (as the channel was without one). */
export async function createOnlineChannelGroup(
  tx: Db,
  now: Date,
  everyPhysicalFacility: boolean,
): Promise<ChannelGroup> {
  const [group] = await queryRows<ChannelGroup>(
    tx,
    sql`insert into facility_groups (code, name, purpose, created_at) values ('online', 'Online channel', 'online_channel', ${now}) returning id, code, channel_threshold`,
  );
  if (everyPhysicalFacility)
    await tx.execute(
      sql`insert into facility_group_members (group_id, facility_id) select ${group!.id}, id from facilities where kind <> 'VIRTUAL'`,
    );
  return group!;
}

export async function setGroupThreshold(tx: Db, groupId: number, threshold: number): Promise<void> {
  await tx.execute(sql`update facility_groups set channel_threshold = ${threshold} where id = ${groupId}`);
}

/** The group's members become exactly these facilities, in this order. */
export async function replaceGroupMembers(tx: Db, groupId: number, facilityIds: number[]): Promise<void> {
  await tx.execute(sql`delete from facility_group_members where group_id = ${groupId}`);
  for (const [i, id] of facilityIds.entries())
    await tx.execute(
      sql`insert into facility_group_members (group_id, facility_id, sequence) values (${groupId}, ${id}, ${i})`,
    );
}
