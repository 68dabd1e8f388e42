/**
 * What the architecture tests read of a source file, from TypeScript's syntax tree (never a raw
 * token scan: a scanner without the parser's context loses sync at the first `${` of a template
 * literal or at a regular expression, and everything after it is then misread or missed).
 */
import ts from 'typescript';

export function parse(name: string, text: string): ts.SourceFile {
  return ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

export interface ImportSite {
  /** The module specifier as written, or null when it is not a string literal (`import(x)`). */
  spec: string | null;
  /** 1-based line of the specifier. */
  line: number;
  /** Erased at run time: `import type`, all-`type` named imports, `export type … from`, `import('x').T` in a type. */
  typeOnly: boolean;
}

const isJsDoc = (n: ts.Node) => n.kind >= ts.SyntaxKind.FirstJSDocNode && n.kind <= ts.SyntaxKind.LastJSDocNode;

/**
 * Every place the file names another module: static imports and re-exports, `import x = require()`,
 * dynamic `import()`, any call of a function named `require` (including one made by
 * `createRequire`), and import types.
 */
export function importsOf(sf: ts.SourceFile): ImportSite[] {
  const out: ImportSite[] = [];
  const add = (node: ts.Expression | ts.TypeNode | undefined, typeOnly: boolean) => {
    if (!node) return;
    const lit = ts.isLiteralTypeNode(node) ? node.literal : node;
    const spec = ts.isStringLiteralLike(lit) ? lit.text : null;
    out.push({ spec, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, typeOnly });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      // `import {} from 'x'` and `import 'x'` run the module: not type-only.
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(n.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(n)) {
      const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : undefined;
      add(n.moduleSpecifier, n.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      add(n.moduleReference.expression, n.isTypeOnly);
    } else if (ts.isCallExpression(n)) {
      const callee = n.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(n.arguments[0] ?? callee, false);
    } else if (ts.isImportTypeNode(n)) {
      add(n.argument, true);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The file's tokens in order (comments and JSDoc are trivia, not tokens). */
function* tokens(sf: ts.SourceFile): Generator<ts.Node> {
  const walk = function* (n: ts.Node): Generator<ts.Node> {
    if (isJsDoc(n)) return;
    const kids = n.getChildren(sf);
    if (kids.length === 0) {
      if (n.kind !== ts.SyntaxKind.SyntaxList && n.kind !== ts.SyntaxKind.EndOfFileToken) yield n;
      return;
    }
    for (const k of kids) yield* walk(k);
  };
  yield* walk(sf);
}

const TEXT_KINDS = new Set([
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.TemplateHead,
  ts.SyntaxKind.TemplateMiddle,
  ts.SyntaxKind.TemplateTail,
  ts.SyntaxKind.RegularExpressionLiteral,
]);

/**
 * The code alone, tokens separated by one space, with every string, template piece and regular
 * expression replaced by `""`: prose and messages may name what the code must not use. Template
 * substitutions (`${expr}`) are code and stay.
 */
export function codeOf(sf: ts.SourceFile): string {
  const out: string[] = [];
  for (const t of tokens(sf)) out.push(TEXT_KINDS.has(t.kind) ? '""' : t.getText(sf));
  return out.join(' ');
}

/** Comments and whitespace between tokens; nothing else lives there. */
const COMMENT = /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;

/**
 * The source text with comments removed and everything else kept as written (strings and
 * templates included: they are what gets printed), line structure intact.
 */
export function withoutComments(sf: ts.SourceFile): string {
  const text = sf.text;
  let out = '';
  let last = 0;
  for (const t of tokens(sf)) {
    const start = t.getStart(sf);
    out += text.slice(last, start).replace(COMMENT, (c) => c.replace(/[^\n]/g, '')) + text.slice(start, t.end);
    last = t.end;
  }
  return out + text.slice(last).replace(COMMENT, (c) => c.replace(/[^\n]/g, ''));
}

export interface Comment {
  /** 1-based line where the comment starts. */
  line: number;
  text: string;
}

/** Every comment of the file (line, block and JSDoc), once each, in order. */
export function commentsOf(sf: ts.SourceFile): Comment[] {
  const text = sf.text;
  const out: Comment[] = [];
  let last = 0;
  const take = (from: number, to: number) => {
    for (const m of text.slice(from, to).matchAll(COMMENT)) {
      out.push({ line: sf.getLineAndCharacterOfPosition(from + m.index).line + 1, text: m[0] });
    }
  };
  for (const t of tokens(sf)) {
    take(last, t.getStart(sf));
    last = t.end;
  }
  take(last, text.length);
  return out;
}
