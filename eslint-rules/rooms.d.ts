import type { Rule } from 'eslint';
export declare const roomsRule: Rule.RuleModule;
export declare function roomOf(
  file: string,
  srcDir: string,
): { room: string; domain?: string; relative: string } | null;
declare const plugin: { rules: { rooms: Rule.RuleModule } };
export default plugin;
