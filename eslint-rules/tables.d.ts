import type { Rule } from 'eslint';
export interface TableOwner {
  /** The table's SQL name: `order_lines`. */
  table: string;
  /** Its drizzle identifier: `orderLines`. */
  identifier: string;
  /** The room that declares it and alone writes it: `domains/orders`. */
  room: string;
  /** Its schema file, relative to srcDir's parent: `src/domains/orders/orders.schema.ts`. */
  file: string;
}
export declare const tableOwnersRule: Rule.RuleModule;
export declare function tableOwners(srcDir: string): TableOwner[];
export declare function roomName(file: string, srcDir: string): string | null;
export declare function renderTablesDoc(srcDir: string): string;
declare const plugin: { rules: { 'table-owners': Rule.RuleModule } };
export default plugin;
