// Shopify's query cost rules: scalars and enums 0, objects 1, connections 2 + first × (cost of one
// item), every mutation field 10. The requested cost is computed from the document before execution;
// the actual cost walks the response with the same rules, counting the items really returned.
import {
  getNamedType,
  isInterfaceType,
  isLeafType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

export const MUTATION_COST = 10;

type Data = Record<string, unknown> | null | undefined;

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  /** requested: no data, connections count `first`; actual: walk the response. */
  actual: boolean;
}

export function isConnectionType(type: GraphQLNamedType): boolean {
  return (
    isObjectType(type) &&
    type.name.endsWith('Connection') &&
    ('edges' in type.getFields() || 'nodes' in type.getFields())
  );
}

function argument(field: FieldNode, name: string, variables: Record<string, unknown>): unknown {
  const node = field.arguments?.find((a) => a.name.value === name);
  return node ? valueFromASTUntyped(node.value, variables) : undefined;
}

function selectionCost(
  walk: Walk,
  selectionSet: SelectionSetNode | undefined,
  type: GraphQLCompositeType,
  data: Data,
): number {
  if (!selectionSet) return 0;
  let total = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      total += fieldCost(walk, selection, type, data);
    } else {
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : walk.fragments.get(selection.name.value);
      if (!fragment) continue;
      const conditionType = fragment.typeCondition
        ? (walk.schema.getType(fragment.typeCondition.name.value) as GraphQLCompositeType)
        : type;
      total += selectionCost(walk, fragment.selectionSet, conditionType ?? type, data);
    }
  }
  return total;
}

function fieldCost(walk: Walk, field: FieldNode, parent: GraphQLCompositeType, data: Data): number {
  const name = field.name.value;
  if (name.startsWith('__') || !(isObjectType(parent) || isInterfaceType(parent))) return 0;
  const definition = parent.getFields()[name];
  if (!definition) return 0;
  const named: GraphQLNamedType = getNamedType(definition.type);
  if (isLeafType(named)) return 0;
  const value = walk.actual ? (data?.[field.alias?.value ?? name] as unknown) : undefined;
  if (walk.actual && (value === null || value === undefined)) return 0;
  if (isConnectionType(named)) return connectionCost(walk, field, named as GraphQLCompositeType, value as Data);
  const composite = named as GraphQLCompositeType;
  if (walk.actual && Array.isArray(value)) {
    return value.reduce<number>(
      (sum, item) => sum + (item == null ? 0 : 1 + selectionCost(walk, field.selectionSet, composite, item as Data)),
      0,
    );
  }
  return 1 + selectionCost(walk, field.selectionSet, composite, value as Data);
}

function connectionCost(walk: Walk, field: FieldNode, type: GraphQLCompositeType, value: Data): number {
  const pageSize =
    Number(argument(field, 'first', walk.variables) ?? argument(field, 'last', walk.variables) ?? 0) || 0;
  const fields = (type as GraphQLObjectType).getFields();
  let total = 2;
  for (const selection of field.selectionSet?.selections ?? []) {
    if (selection.kind !== Kind.FIELD) continue;
    const sub = selection.name.value;
    if (sub === 'edges') {
      const edgeType = getNamedType(fields['edges']!.type) as GraphQLCompositeType;
      const nodeField = selection.selectionSet?.selections.find(
        (s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === 'node',
      );
      if (!nodeField) continue;
      const nodeType = getNamedType((edgeType as GraphQLObjectType).getFields()['node']!.type) as GraphQLCompositeType;
      if (walk.actual) {
        const edges = (value?.[selection.alias?.value ?? 'edges'] as Array<Record<string, unknown>> | undefined) ?? [];
        for (const edge of edges)
          total +=
            1 + selectionCost(walk, nodeField.selectionSet, nodeType, edge[nodeField.alias?.value ?? 'node'] as Data);
      } else {
        total += pageSize * (1 + selectionCost(walk, nodeField.selectionSet, nodeType, undefined));
      }
    } else if (sub === 'nodes') {
      const nodeType = getNamedType(fields['nodes']!.type) as GraphQLCompositeType;
      if (walk.actual) {
        const nodes = (value?.[selection.alias?.value ?? 'nodes'] as Data[] | undefined) ?? [];
        for (const node of nodes) total += 1 + selectionCost(walk, selection.selectionSet, nodeType, node);
      } else {
        total += pageSize * (1 + selectionCost(walk, selection.selectionSet, nodeType, undefined));
      }
    }
  }
  return total;
}

function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  data: Data,
  actual: boolean,
): number {
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  if (operation.operation === 'mutation') {
    // Each top-level mutation field costs 10, whatever it selects.
    return (
      operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && !s.name.value.startsWith('__')).length *
      MUTATION_COST
    );
  }
  const root = schema.getQueryType()!;
  return selectionCost({ schema, fragments, variables, actual }, operation.selectionSet, root, data);
}

export function requestedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): number {
  return operationCost(schema, document, operation, variables, undefined, false);
}

export function actualCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  data: Data,
): number {
  return operationCost(schema, document, operation, variables, data, true);
}
