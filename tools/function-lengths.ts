/**
 * The longest functions of a tree, by lines from their first to their last line (TypeScript's own
 * parser, so arrow functions, methods and nested functions count each on their own).
 *
 *   npx tsx tools/function-lengths.ts [dir] [--top N] [--max L]
 *
 * Prints the N longest (default 10). With --max, exits 1 when any is longer than L lines: a check a
 * reviewer can run, not a rule the build enforces.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

interface Found {
  file: string;
  name: string;
  line: number;
  lines: number;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return files(full);
    return full.endsWith('.ts') && !full.endsWith('.d.ts') ? [full] : [];
  });
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name !== undefined)
    return node.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(source);
  return '(anonymous)';
}

function scan(file: string): Found[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Found[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file, name: nameOf(node, source), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function main(): void {
  const args = process.argv.slice(2);
  const option = (name: string): number | undefined => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : Number(args[at + 1]);
  };
  const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'src';
  const top = option('--top') ?? 10;
  const max = option('--max');
  // Generated code (src/api/generated.ts) is not written by hand.
  const all = files(dir)
    .filter((f) => !f.endsWith('generated.ts'))
    .flatMap(scan)
    .sort((a, b) => b.lines - a.lines);
  for (const f of all.slice(0, top))
    console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`);
  if (max !== undefined) {
    const over = all.filter((f) => f.lines > max);
    if (over.length > 0) {
      console.log(`${over.length} function(s) over ${max} lines`);
      process.exitCode = 1;
    }
  }
}

main();
