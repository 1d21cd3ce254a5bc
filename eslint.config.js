// @ts-check
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Modules src/api must not reach: it is types and constants, shared by every layer. */
const ioModules = [
  '@kubernetes/client-node',
  '@dot-i/k8s-operator',
  'prom-client',
  'winston',
  'jose',
  'node:*',
  'fs',
  'crypto',
  'http',
  'https',
];

/**
 * The core (src/rotation) imports itself and src/api, by relative path, and nothing else: no
 * package, no `node:` module, no other layer. An import path is allowed when it stays inside
 * src/rotation (`./x`, or `../x` from a subfolder, never climbing out) or goes to src/api. The
 * rule sees only the import text, not the importing file's folder, so there is one block per
 * depth of subfolder (src/rotation/x.ts, src/rotation/a/x.ts, src/rotation/a/b/x.ts).
 */
const CORE_DEPTHS = [0, 1, 2];
/** @param {number} depth */
function coreFiles(depth) {
  return [`src/rotation/${'*/'.repeat(depth)}*.ts`];
}
/** @param {number} depth */
function coreImportRegex(depth) {
  const within = depth === 0 ? String.raw`\./` : String.raw`(?:\./|(?:\.\./){1,${depth}})`;
  const api = String.raw`(?:\.\./){${depth + 1}}api/`;
  // Forbidden: anything that does not start with an allowed prefix, that climbs out after it
  // (a `..` further on), or that leaves by the prefix's last `../` (`../../x` from depth 1).
  return String.raw`^(?!(?:${within}(?!\.)|${api})(?!.*(?:^|/)\.\.?/)).*`;
}
const coreMessage =
  'The core (src/rotation) imports only itself and src/api: it decides, the shell does I/O. Pass what it needs in.';

/** I/O and nondeterminism the core must not touch, whatever the import lines say. */
const coreGlobals = [
  'process',
  'fetch',
  'performance',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'crypto',
  'globalThis',
  'require',
].map((name) => ({
  name,
  message: `The core does no I/O and keeps no time of its own: no ${name}. Use DecideInput (now) and return requeueAfterMs.`,
}));

export default defineConfig(
  { ignores: ['node_modules', 'dist', '.build', 'coverage', '.cluster', 'charts'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
      // client-node's models are classes, but the library takes (and documents) plain object literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // Secret data and annotations are records keyed by name; deleting a key by name is the point.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // Same cause: spreading a model copies its data, which is all a model has.
      '@typescript-eslint/no-misused-spread': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/operator/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@dot-i/k8s-operator', message: 'Only src/adapters/operator may import the framework.' },
          ],
        },
      ],
    },
  },
  {
    // Adapters implement the ports; they do not import the shell, nor the composition root.
    files: ['src/adapters/**/*.ts'],
    ignores: ['src/adapters/operator/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@dot-i/k8s-operator', message: 'Only src/adapters/operator may import the framework.' },
          ],
          patterns: [
            {
              group: ['**/reconcile', '**/reconcile/**', '**/main', '**/main.ts'],
              message:
                'Adapters do not import the shell or main.ts: they implement the interfaces of src/reconcile/ports.ts structurally, and main.ts wires them.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/adapters/operator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/reconcile', '**/reconcile/**', '**/main', '**/main.ts'],
              message: 'Adapters do not import the shell or main.ts; main.ts wires them.',
            },
          ],
        },
      ],
    },
  },
  {
    // Only the composition root knows the adapters; everything else reaches them through ports.
    files: ['src/reconcile/**/*.ts', 'src/platform/**/*.ts', 'src/config.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@dot-i/k8s-operator', message: 'Only src/adapters/operator may import the framework.' },
          ],
          patterns: [
            {
              group: ['**/adapters', '**/adapters/**', '**/main', '**/main.ts'],
              message:
                'Only src/main.ts imports adapters: depend on the interfaces in src/reconcile/ports.ts and let main.ts pass the implementations in.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/platform/**/*.ts', 'src/config.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@dot-i/k8s-operator', message: 'Only src/adapters/operator may import the framework.' },
          ],
          patterns: [
            {
              group: [
                '**/adapters',
                '**/adapters/**',
                '**/reconcile',
                '**/reconcile/**',
                '**/main',
                '**/main.ts',
              ],
              message:
                'src/platform and config.ts sit below the shell and the adapters: they import neither.',
            },
          ],
        },
      ],
    },
  },
  {
    // The issuer server is a process of its own that holds no secret: it shares the adapters and the
    // platform, never the operator's shell, core, composition root or framework.
    files: ['src/issuer/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@dot-i/k8s-operator', message: 'Only src/adapters/operator may import the framework.' },
          ],
          patterns: [
            {
              group: [
                '**/reconcile',
                '**/reconcile/**',
                '**/rotation',
                '**/rotation/**',
                '**/wiring',
                '**/wiring/**',
                '**/adapters/operator/**',
                '**/main',
                '../main.ts',
                '../config.ts',
              ],
              message:
                "The issuer server shares src/adapters and src/platform only: not the operator's shell, core, wiring, config or entry point.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ioModules, message: 'src/api is types and constants: no I/O.' }] },
      ],
    },
  },
  ...CORE_DEPTHS.map((depth) => ({
    files: coreFiles(depth),
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: coreImportRegex(depth), message: coreMessage }] },
      ],
    },
  })),
  {
    files: ['src/rotation/**/*.ts', 'src/api/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...coreGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use the injected clock (input.now).' },
        {
          object: 'Math',
          property: 'random',
          message: 'The core makes no randomness: keys come from the executor.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Use the injected clock.',
        },
        {
          selector: 'ImportExpression',
          message: 'The core imports statically, and only itself and src/api.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'tools/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  prettier,
);
